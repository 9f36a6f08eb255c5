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
  [ErrorCode.LockHeld]: ExitCode.Locked,
  [ErrorCode.HumanNeeded]: ExitCode.HumanNeeded,
  [ErrorCode.Unknown]: ExitCode.HumanNeeded,
};

export class UpgradeBotError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
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
  constructor(message: string, hint?: string) {
    super(ErrorCode.BadInput, message, hint === undefined ? {} : { hint });
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
