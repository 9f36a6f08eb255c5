/**
 * Every error the bot raises on purpose carries a code, an exit code (SPEC: 0 done,
 * 1 failed and rolled back, 2 bad input/configuration/policy, 3 human needed, 4 locked)
 * and, where one exists, a hint that tells the operator what to do instead.
 */
export const ExitCode = {
  Ok: 0,
  RolledBack: 1,
  BadInput: 2,
  HumanNeeded: 3,
  Locked: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export enum ErrorCode {
  ConfigInvalid = 'config_invalid',
  BadInput = 'bad_input',
  PolicyRefused = 'policy_refused',
  ComposeInvalid = 'compose_invalid',
  ComposeEditFailed = 'compose_edit_failed',
  DockerUnavailable = 'docker_unavailable',
  DockerRequestFailed = 'docker_request_failed',
  NotFound = 'not_found',
  Timeout = 'timeout',
  BackupFailed = 'backup_failed',
  /** A restore failed and put the database back as it was: undos may run safely. */
  RestoreFailed = 'restore_failed',
  ServiceFailed = 'service_failed',
  /** An image build that failed at an instruction of its Dockerfile: nothing was published. */
  BuildFailed = 'build_failed',
  LockHeld = 'lock_held',
  HumanNeeded = 'human_needed',
  Unknown = 'unknown',
}

const exitCodeOf: Record<ErrorCode, ExitCode> = {
  [ErrorCode.ConfigInvalid]: ExitCode.BadInput,
  [ErrorCode.BadInput]: ExitCode.BadInput,
  [ErrorCode.PolicyRefused]: ExitCode.BadInput,
  [ErrorCode.ComposeInvalid]: ExitCode.BadInput,
  [ErrorCode.ComposeEditFailed]: ExitCode.HumanNeeded,
  [ErrorCode.DockerUnavailable]: ExitCode.HumanNeeded,
  [ErrorCode.DockerRequestFailed]: ExitCode.HumanNeeded,
  [ErrorCode.NotFound]: ExitCode.BadInput,
  [ErrorCode.Timeout]: ExitCode.HumanNeeded,
  [ErrorCode.BackupFailed]: ExitCode.BadInput,
  [ErrorCode.RestoreFailed]: ExitCode.HumanNeeded,
  [ErrorCode.ServiceFailed]: ExitCode.HumanNeeded,
  [ErrorCode.BuildFailed]: ExitCode.BadInput,
  [ErrorCode.LockHeld]: ExitCode.Locked,
  [ErrorCode.HumanNeeded]: ExitCode.HumanNeeded,
  [ErrorCode.Unknown]: ExitCode.HumanNeeded,
};

/**
 * A message id and its values, so that an interface in another language (chat, BOT_LOCALE)
 * can say the same thing in its own words; the English `message` stays for logs and the CLI.
 */
export interface MessageTag {
  key: string;
  params?: Record<string, string | number>;
}

export class UpgradeBotError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly tag: MessageTag | undefined;
  /** For a state a person must finish: the commands, in order (the hint then says what else may do). */
  readonly manual: string[] | undefined;
  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown; tag?: MessageTag; manual?: string[] } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.tag = options.tag;
    this.manual = options.manual;
  }
  get exitCode(): ExitCode {
    return exitCodeOf[this.code];
  }
}

/** One line per problem; all of them reported together so the operator fixes them in one go. */
export class ConfigError extends UpgradeBotError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(ErrorCode.ConfigInvalid, problems.join('\n'));
    this.problems = problems;
  }
}

export class BadInputError extends UpgradeBotError {
  constructor(message: string, hint?: string, tag?: MessageTag) {
    super(ErrorCode.BadInput, message, { ...(hint === undefined ? {} : { hint }), ...(tag ? { tag } : {}) });
  }
}

export class ComposeError extends UpgradeBotError {}

export class DockerError extends UpgradeBotError {
  /** HTTP status the Engine answered, when it answered. */
  readonly statusCode: number | undefined;
  constructor(code: ErrorCode, message: string, options: { statusCode?: number; cause?: unknown; hint?: string } = {}) {
    super(code, message, options);
    this.statusCode = options.statusCode;
  }
}

/** Refused by policy (window, health, a major jump…): nothing changed. */
export class PolicyError extends UpgradeBotError {
  constructor(message: string, hint?: string, tag?: MessageTag) {
    super(ErrorCode.PolicyRefused, message, { ...(hint === undefined ? {} : { hint }), ...(tag ? { tag } : {}) });
  }
}

/**
 * A backup that could not be taken. It comes before any destructive step, so nothing has
 * changed: exit code 2 — an upgrade without a verified dump does not start.
 */
export class BackupError extends UpgradeBotError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(ErrorCode.BackupFailed, message, { ...options, tag: { key: 'backup.failed' } });
  }
}

/** A container that exited, restarted or never became healthy, with the log lines that say why. */
export class ServiceFailedError extends UpgradeBotError {
  constructor(message: string, readonly logLines: string[]) {
    super(ErrorCode.ServiceFailed, logLines.length > 0 ? `${message}\n${logLines.map((l) => `    ${l}`).join('\n')}` : message);
  }
}

/** A Dockerfile instruction that failed: the instruction, what the builder said, and the output just before. */
export class BuildFailedError extends UpgradeBotError {
  constructor(
    readonly step: string | undefined,
    readonly error: string,
    readonly output: string[],
  ) {
    super(
      ErrorCode.BuildFailed,
      [step ? `${step} failed: ${error}` : error, ...(output.length > 0 ? ['  last output:', ...output.map((l) => `    ${l}`)] : [])].join('\n'),
    );
  }
}

/** Another job holds the single-job lock: exit code 4, naming it. */
export class LockHeldError extends UpgradeBotError {
  constructor(readonly holder: { jobId: string; kind: string; title: string; owner: string; step: string | undefined; pid: number; startedAt: string }) {
    super(
      ErrorCode.LockHeld,
      `another job is running: ${holder.title} (by ${holder.owner}, step ${holder.step ?? 'starting'}, pid ${holder.pid}, since ${holder.startedAt})`,
      {
        hint: 'Wait for it to finish (mm-upgrade status shows its progress).',
        tag: { key: 'lock.held', params: { title: holder.title, owner: holder.owner, step: holder.step ?? 'starting', since: holder.startedAt } },
      },
    );
  }
}

export class TimeoutError extends UpgradeBotError {
  constructor(message: string) {
    super(ErrorCode.Timeout, message);
  }
}

/** Wraps anything thrown by a library into an UpgradeBotError, keeping the original as `cause`. */
export function toBotError(err: unknown): UpgradeBotError {
  if (err instanceof UpgradeBotError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new UpgradeBotError(ErrorCode.Unknown, message, { cause: err });
}
