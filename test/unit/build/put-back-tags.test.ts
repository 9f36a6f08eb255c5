/** After a build (or to undo one): each tag goes back where it was, and only images nobody uses go. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { putBackTags } from '../../../src/core/build/job.js';
import { DockerError, ErrorCode } from '../../../src/common/errors.js';
import type { DockerEngine, ImageInspect } from '../../../src/docker/engine.js';

/** Images by ID with their tags; `used` IDs belong to a container (the Engine refuses to delete them). */
function fakeEngine(images: Record<string, string[]>, used: string[] = []) {
  const calls: string[] = [];
  const idOf = (ref: string): string | undefined => (images[ref] ? ref : Object.keys(images).find((id) => images[id]!.includes(ref)));
  const engine = {
    inspectImage: async (ref: string) => {
      const id = idOf(ref);
      return id ? ({ Id: id, RepoTags: [...images[id]!] } as unknown as ImageInspect) : undefined;
    },
    tagImage: async (source: string, ref: string) => {
      calls.push(`tag ${source} ${ref}`);
      for (const tags of Object.values(images)) tags.splice(0, tags.length, ...tags.filter((t) => t !== ref));
      images[idOf(source)!]!.push(ref);
    },
    removeImage: async (ref: string) => {
      calls.push(`rmi ${ref}`);
      const id = idOf(ref);
      if (!id) throw new DockerError(ErrorCode.NotFound, `no such image ${ref}`, { statusCode: 404 });
      const tags = images[id]!;
      if (ref !== id && tags.length > 1) return void tags.splice(tags.indexOf(ref), 1);
      if (used.includes(id)) throw new DockerError(ErrorCode.DockerRequestFailed, `could not remove image ${ref}: conflict: unable to remove repository reference "${ref}" (must force) - container abc is using its referenced image ${id}`, { statusCode: 409 });
      delete images[id];
    },
  } as unknown as DockerEngine;
  return { engine, images, calls };
}

describe('putBackTags', () => {
  it('tags that did not exist are removed, and the image with them', async () => {
    const f = fakeEngine({ 'sha256:new': ['r/app:1.2.3', 'r/app:latest'] });
    const r = await putBackTags(f.engine, [{ ref: 'r/app:1.2.3', before: null }, { ref: 'r/app:latest', before: null }]);
    assert.deepEqual(r, { removed: ['r/app:1.2.3', 'r/app:latest'], restored: [], kept: [] });
    assert.deepEqual(f.images, {});
  });

  it('a tag that named another image goes back onto it; the new image, left without a tag, goes', async () => {
    const f = fakeEngine({ 'sha256:old': [], 'sha256:new': ['r/app:1.2.3', 'r/app:latest'] });
    const r = await putBackTags(f.engine, [{ ref: 'r/app:1.2.3', before: null }, { ref: 'r/app:latest', before: 'sha256:old' }]);
    assert.deepEqual(r.restored, ['r/app:latest']);
    assert.deepEqual(f.images, { 'sha256:old': ['r/app:latest'] });
    assert.ok(r.removed.some((x) => x.startsWith('sha256:new')), JSON.stringify(r));
  });

  it('a tag already where it was is left alone; an image a container uses is kept and said', async () => {
    const f = fakeEngine({ 'sha256:same': ['r/app:1.2.3'], 'sha256:run': ['r/db:1.2.3'] }, ['sha256:run']);
    const r = await putBackTags(f.engine, [{ ref: 'r/app:1.2.3', before: 'sha256:same' }, { ref: 'r/db:1.2.3', before: null }]);
    assert.deepEqual(r.removed, []);
    assert.equal(r.kept.length, 1);
    assert.match(r.kept[0]!, /^r\/db:1\.2\.3: conflict: .*container abc is using/);
    assert.deepEqual(f.images, { 'sha256:same': ['r/app:1.2.3'], 'sha256:run': ['r/db:1.2.3'] });
  });
});
