/** Docker's event stream for some containers, one parsed event at a time (the benchmarks' clocks). */
import type Docker from 'dockerode';

export interface RawEvent {
  Action?: string;
  status?: string;
  timeNano?: number;
  time?: number;
  Actor?: { Attributes?: Record<string, string> };
}

export async function followContainerEvents(docker: Docker, containers: string[], onEvent: (e: RawEvent) => void): Promise<{ stop(): void }> {
  const stream = (await docker.getEvents({ filters: { type: ['container'], container: containers } })) as NodeJS.ReadableStream & { destroy(): void };
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (line) onEvent(JSON.parse(line) as RawEvent);
    }
  });
  stream.on('error', () => undefined);
  return { stop: () => stream.destroy() };
}
