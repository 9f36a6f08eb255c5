import type coerce from 'semver/functions/coerce.js';
import { BadInputError } from './errors.js';
import { lazy } from './lazy.js';

const STRICT_VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly text: string;
}

/** A release the bot may upgrade to: exactly `X.Y.Z`, digits only. */
export function parseVersion(input: string): Version {
  const text = input.trim();
  const m = STRICT_VERSION.exec(text);
  if (!m) {
    const loose = looseVersion(text);
    const hint = loose ? ` — did you mean ${loose}?` : '';
    throw new BadInputError(
      `"${input}" is not a release version: expected X.Y.Z, for example 10.11.4${hint}`,
      'Type the exact release number, for example `10.11.4`; `latest`, `10.11` and `v10.11.4-rc1` are refused.',
      { key: 'version.invalid', params: { input, ...(loose ? { suggestion: loose } : {}) } },
    );
  }
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), text };
}

export function isStrictVersion(input: string): boolean {
  return STRICT_VERSION.test(input);
}

/** -1, 0 or 1, as semver orders them (for X.Y.Z, digits only, that is number by number). */
export function compareVersions(a: Version | string, b: Version | string): number {
  const left = typeof a === 'string' ? parseVersion(a) : a;
  const right = typeof b === 'string' ? parseVersion(b) : b;
  return Math.sign(left.major - right.major || left.minor - right.minor || left.patch - right.patch);
}

/**
 * The X.Y.Z someone who typed `text` probably meant (`v10.11` → `10.11.0`), for a refusal's
 * hint; semver is loaded only then.
 */
export function looseVersion(text: string): string | undefined {
  return loadCoerce()(text)?.version;
}

const loadCoerce = lazy<typeof coerce>('semver/functions/coerce');

/**
 * A tag an image may be pinned to: starts with a digit and reads as a version
 * (`10.11.4`, `15`, `15.4`, `15-alpine`, `13.2-bookworm`), never `latest`, `stable`, `edge`…
 */
const VERSION_TAG = /^v?\d+(\.\d+){0,3}([-_.+][A-Za-z0-9]+([-_.][A-Za-z0-9]+)*)?$/;

export function isVersionTag(tag: string): boolean {
  return VERSION_TAG.test(tag) && tag.length <= 128;
}

/** The version a Mattermost server reports, from `config/client` `Version` or the `X-Version-Id` header. */
export function versionFromHeader(header: string): string | undefined {
  const parts = header.split('.');
  if (parts.length < 3) return undefined;
  const candidate = parts.slice(0, 3).join('.');
  return isStrictVersion(candidate) ? candidate : undefined;
}
