import { BadInputError } from '../../common/errors.js';

export interface ImageRef {
  /** Registry and repository, without tag or digest, e.g. `registry.example.net:5000/pica-mattermost`. */
  name: string;
  tag?: string;
  digest?: string;
}

// The grammar of github.com/distribution/reference, without IPv6 registry hosts.
const DOMAIN_PART = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `${DOMAIN_PART}(?:\\.${DOMAIN_PART})*(?::[0-9]+)?`;
const PATH_PART = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE = new RegExp(
  `^(?<name>(?:${DOMAIN}/)?${PATH_PART}(?:/${PATH_PART})*)(?::(?<tag>${TAG}))?(?:@(?<digest>${DIGEST}))?$`,
);

export function parseImageRef(ref: string): ImageRef {
  const groups = REFERENCE.exec(ref)?.groups;
  if (!groups?.name || groups.name.length > 255) {
    throw new BadInputError(
      `"${ref}" is not a valid image reference: expected [registry[:port]/]repository[:tag][@sha256:digest], ` +
        'for example registry.example.net:5000/pica-mattermost:4.3.0',
    );
  }
  return {
    name: groups.name,
    ...(groups.tag === undefined ? {} : { tag: groups.tag }),
    ...(groups.digest === undefined ? {} : { digest: groups.digest }),
  };
}

export function formatImageRef(ref: ImageRef): string {
  return ref.name + (ref.tag === undefined ? '' : `:${ref.tag}`) + (ref.digest === undefined ? '' : `@${ref.digest}`);
}
