/** Asks a yes/no question on the command line; anything but an explicit yes is a no. */
import { createInterface } from 'node:readline/promises';

export interface PromptIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean; readableEnded?: boolean };
  output: NodeJS.WritableStream;
}

/** Prints `question [y/N] ` and reads one line: true only for `y` or `yes`; EOF is a no. */
export async function confirm(question: string, io: PromptIo): Promise<boolean> {
  const prompt = `${question} [y/N] `;
  if (io.input.readableEnded === true) {
    // Nothing left to read (stdin was /dev/null or already consumed): never wait for it.
    io.output.write(`${prompt}\n`);
    return false;
  }
  const rl = createInterface({ input: io.input, output: io.output });
  try {
    // 'line' comes before 'close' when the input ends without a newline: both listen here.
    const answer = await new Promise<string | undefined>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(undefined));
      rl.setPrompt(prompt);
      rl.prompt();
    });
    // A typed answer ends with the terminal's echo of Enter; piped input and EOF do not.
    if (answer === undefined || io.input.isTTY !== true) io.output.write('\n');
    return answer !== undefined && /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
