/** What the bed runner (test/run.ts) started, handed to test files through the environment. */
export interface Bed {
  root: string;
  dockerHost: string;
  registry: string;
  images: {
    app: string;
    db: string;
    mmApp: string;
    postgres: string;
    appTags: { healthy: string[]; crash: string; unhealthy: string; damage: string };
  };
}

export const BED_ENV = 'MM_UPGRADE_TEST_BED';

export function currentBed(): Bed {
  const text = process.env[BED_ENV];
  if (!text) throw new Error(`no test bed: run the integration tests through \`npm test\` (test/run.ts sets ${BED_ENV})`);
  return JSON.parse(text) as Bed;
}

export function hasBed(): boolean {
  return Boolean(process.env[BED_ENV]);
}
