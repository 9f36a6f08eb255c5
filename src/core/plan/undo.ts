/**
 * Running a job's registered undos in reverse, each journaled before and after; the first
 * that fails stops the rest and yields the commands that finish by hand from there.
 */
import { toBotError } from '../../common/errors.js';
import type { EngineEvent, EventSink, JobInfo } from '../events.js';
import type { Journal, UndoRecord } from '../../state/journal.js';
import type { UndoContext, UndoHandler } from './step.js';
import type { Checkpoint } from './checkpoint.js';

export type UndoOutcome = { ok: true } | { ok: false; error: string; manual: string[] };

export async function runUndos(
  deps: { undoHandlers: Record<string, UndoHandler>; emit: EventSink; checkpoint?: Checkpoint | undefined },
  job: JobInfo,
  undos: UndoRecord[],
  journal: Journal,
): Promise<UndoOutcome> {
  const ctx: UndoContext = {
    job,
    stage: (stage, message, ok) => deps.emit({ type: 'rollback-stage', job, stage, message, ...(ok === undefined ? {} : { ok }) }),
    emit: (event: EngineEvent) => deps.emit(event),
  };
  const reversed = [...undos].reverse();
  for (const [i, undo] of reversed.entries()) {
    const handler = deps.undoHandlers[undo.kind]!;
    await journal.append({ type: 'undo-started', undo: undo.id });
    await deps.checkpoint?.(`undo-started:${undo.kind}`);
    ctx.stage(undo.kind, handler.describe(undo.data));
    try {
      await handler.run(undo.data, ctx);
      await journal.append({ type: 'undo-done', undo: undo.id });
      await deps.checkpoint?.(`undo-done:${undo.kind}`);
      ctx.stage(undo.kind, handler.describe(undo.data), true);
    } catch (err) {
      const error = toBotError(err).message;
      await journal.append({ type: 'undo-failed', undo: undo.id, error });
      ctx.stage(undo.kind, `${handler.describe(undo.data)}: ${error}`, false);
      const manual = reversed.slice(i).flatMap((u) => deps.undoHandlers[u.kind]!.manual(u.data));
      return { ok: false, error: `${handler.describe(undo.data)} failed: ${error}`, manual };
    }
  }
  return { ok: true };
}
