/** node-cron as the schedules use it: in TZ, and a run that is still going is never started twice. */
import cron from 'node-cron';

export function scheduleCron(expression: string, fn: () => void, timeZone: string): { stop(): unknown } {
  return cron.schedule(expression, fn, { timezone: timeZone, noOverlap: true });
}
