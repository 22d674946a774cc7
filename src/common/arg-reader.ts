// Primary thread (pure). Walks a command line: flags with their value as the next argument or inline
// (`--flag=value`), in the one way every Legate command reads its options.

export class ArgReader {
  private readonly argv: readonly string[];
  private readonly missingValue: (flag: string) => Error;
  private index: number;
  private inline: string | undefined;
  /** The argument last returned by next() (a flag without its inline value, or a positional argument). */
  current: string;

  /** `missingValue` builds the error thrown when a flag that takes a value is last on the line. */
  constructor(argv: readonly string[], missingValue: (flag: string) => Error) {
    this.argv = argv;
    this.missingValue = missingValue;
    this.index = -1;
    this.inline = undefined;
    this.current = '';
  }

  /** The next argument, with any `=value` of a `--flag=value` kept for value(); undefined at the end. */
  next(): string | undefined {
    this.index++;
    const arg = this.argv[this.index];
    if (arg === undefined) return undefined;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    this.inline = eq > 0 ? arg.slice(eq + 1) : undefined;
    this.current = eq > 0 ? arg.slice(0, eq) : arg;
    return this.current;
  }

  /** The value of the current flag: its inline value, else the next argument (consumed). */
  value(): string {
    if (this.inline !== undefined) return this.inline;
    const v = this.argv[this.index + 1];
    if (v === undefined) throw this.missingValue(this.current);
    this.index++;
    return v;
  }
}
