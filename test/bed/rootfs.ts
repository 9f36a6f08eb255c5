/**
 * Root file systems for images built FROM scratch out of files on this machine: staged on disk
 * with their final owners and modes, then tarred (ADD keeps owners, modes and symlinks; COPY
 * would make everything root's).
 */
import { chmodSync, chownSync, copyFileSync, cpSync, lstatSync, mkdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { run } from './proc.js';

const BUSYBOX = '/bin/busybox';

export class Rootfs {
  constructor(readonly root: string) {
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    this.dir('/tmp', { mode: 0o1777 });
  }

  private at(path: string): string {
    return join(this.root, path);
  }

  dir(path: string, { mode = 0o755, uid = 0, gid = 0 }: { mode?: number; uid?: number; gid?: number } = {}): void {
    mkdirSync(this.at(path), { recursive: true });
    chmodSync(this.at(path), mode);
    chownSync(this.at(path), uid, gid);
  }

  /** Copies one file (following symlinks) to the same path, or to `dest`. */
  file(src: string, dest = src, mode?: number): void {
    mkdirSync(dirname(this.at(dest)), { recursive: true });
    copyFileSync(src, this.at(dest));
    chmodSync(this.at(dest), mode ?? statSync(src).mode & 0o7777);
  }

  /** Copies a directory tree, keeping symlinks as they are. */
  tree(src: string, dest = src, filter: (path: string) => boolean = () => true): void {
    mkdirSync(dirname(this.at(dest)), { recursive: true });
    cpSync(src, this.at(dest), { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, filter });
  }

  text(path: string, content: string, mode = 0o644): void {
    mkdirSync(dirname(this.at(path)), { recursive: true });
    writeFileSync(this.at(path), content, { mode });
    chmodSync(this.at(path), mode);
  }

  symlink(target: string, path: string): void {
    mkdirSync(dirname(this.at(path)), { recursive: true });
    symlinkSync(target, this.at(path));
  }

  /** Every shared library (and the dynamic loader) that `ldd` lists for these ELF files. */
  async sharedLibrariesOf(files: string[]): Promise<void> {
    const { stdout, stderr } = await run('ldd', files, { allowFailure: true });
    const libs = new Set<string>();
    let current = files.length === 1 ? files[0] : '';
    for (const line of stdout.split('\n')) {
      if (!line.startsWith('\t') && line.endsWith(':')) current = line.slice(0, -1);
      if (line.includes('not found')) throw new Error(`ldd ${current}: ${line.trim()}`);
      const lib = /=>\s+(\/\S+)/.exec(line)?.[1] ?? /^\s+(\/\S+)\s+\(0x/.exec(line)?.[1];
      if (lib) libs.add(lib);
    }
    if (libs.size === 0) throw new Error(`ldd listed no libraries for ${files.join(' ')}: ${stderr.trim()}`);
    for (const lib of libs) this.file(lib);
  }

  /** /bin/busybox (static) and a symlink for each of its applets that is not already there. */
  async busybox(): Promise<void> {
    this.file(BUSYBOX, '/bin/busybox', 0o755);
    const { stdout } = await run(BUSYBOX, ['--list']);
    for (const applet of stdout.split('\n').filter(Boolean)) {
      if (!exists(this.at(`/bin/${applet}`))) this.symlink('busybox', `/bin/${applet}`);
    }
  }

  /** /etc/passwd, /etc/group and /etc/nsswitch.conf with root and the given users (uid = gid). */
  etc(users: Array<[name: string, uid: number, gecos: string, home: string]>, groups: Record<string, number>): void {
    const passwd = [['root', 0, 'root', '/root'] as const, ...users].map(
      ([name, uid, gecos, home]) => `${name}:x:${uid}:${uid}:${gecos}:${home}:/bin/sh`,
    );
    const group = Object.entries({ root: 0, ...groups }).map(([name, gid]) => `${name}:x:${gid}:`);
    this.text('/etc/passwd', passwd.join('\n') + '\n');
    this.text('/etc/group', group.join('\n') + '\n');
    this.text('/etc/nsswitch.conf', 'passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n');
  }

  /** Writes the tree as a tar (owners by number) and removes the staging directory. */
  async tar(out: string): Promise<void> {
    await run('tar', ['--numeric-owner', '-C', this.root, '-cf', out, '.']);
    rmSync(this.root, { recursive: true, force: true });
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
