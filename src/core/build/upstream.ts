/**
 * The upstream Docker packaging of Mattermost, as the team checks it out: `app/Dockerfile`
 * names the version it builds (`ENV MM_VERSION=…`, `ENV MM_VERSION …`, or an `ARG MM_VERSION=…`
 * default). `mm-upgrade build X.Y.Z` refuses a checkout that builds another version, unless
 * `--set-version` patches that one line (and says so, with the diff).
 */

export interface VersionLine {
  version: string;
  /** 1-based line number in the Dockerfile. */
  line: number;
  form: 'env=' | 'env ' | 'arg';
}

const FORMS: Array<{ form: VersionLine['form']; re: RegExp }> = [
  { form: 'env=', re: /^(\s*ENV\s+(?:[^\s=]+=\S+\s+)*MM_VERSION=)("?)([^\s"]+)("?)(.*)$/i },
  { form: 'env ', re: /^(\s*ENV\s+MM_VERSION\s+)("?)([^\s"]+)("?)(\s*)$/i },
  { form: 'arg', re: /^(\s*ARG\s+MM_VERSION=)("?)([^\s"]+)("?)(\s*)$/i },
];

/** The version the Dockerfile builds: the ENV line wins over an ARG default. */
export function readMmVersion(dockerfile: string): VersionLine | undefined {
  const lines = dockerfile.split('\n');
  let arg: VersionLine | undefined;
  for (let i = 0; i < lines.length; i++) {
    for (const { form, re } of FORMS) {
      const m = re.exec(lines[i]!);
      if (!m) continue;
      const found = { version: m[3]!, line: i + 1, form };
      if (form === 'arg') arg ??= found;
      else if (!m[3]!.startsWith('$')) return found;
    }
  }
  return arg;
}

/** The Dockerfile with its version line set to `version` (only that line changes), and a unified-style diff of it. */
export function setMmVersion(dockerfile: string, version: string): { text: string; diff: string[] } | undefined {
  const found = readMmVersion(dockerfile);
  if (!found) return undefined;
  const lines = dockerfile.split('\n');
  const before = lines[found.line - 1]!;
  const re = FORMS.find((f) => f.form === found.form)!.re;
  const after = before.replace(re, (_all, head: string, q1: string, _v: string, q2: string, tail: string) => `${head}${q1}${version}${q2}${tail}`);
  lines[found.line - 1] = after;
  return { text: lines.join('\n'), diff: [`@@ line ${found.line} @@`, `-${before}`, `+${after}`] };
}
