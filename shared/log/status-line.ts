import type { LogSink } from './logger.js';

/** Erases the terminal line the cursor is on and returns to its start. */
const ERASE_LINE = '\r\x1b[K';

/**
 * One line at the bottom of a terminal, redrawn in place (a progress line). Only ever used when
 * stderr is a terminal: piped or collected logs (a CronJob's) get JSON lines and nothing else.
 */
export interface StatusLine {
  /** Replaces the line with `text` (one line, no newline). */
  show(text: string): void;
  /** Removes the line, if shown. */
  clear(): void;
}

/**
 * A {@link StatusLine} on a terminal that shares it with the JSON log lines: {@link around}
 * wraps the log sink so each log line is written on a clean line and the status line is drawn
 * again below it, so neither overwrites the other.
 */
export class TerminalStatusLine implements StatusLine {
  private text: string | undefined;

  /** @param columns the terminal's width, read at each redraw (the line is cut to fit). @default 80 */
  constructor(
    private readonly out: { write(text: string): unknown },
    private readonly columns: () => number | undefined = () => 80,
  ) {}

  show(text: string): void {
    // A pseudo-terminal without a size (script, some CI runners) reports 0 columns.
    const columns = this.columns();
    const width = columns !== undefined && columns >= 20 ? columns - 1 : 79;
    this.text = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.out.write(`${ERASE_LINE}${this.text}`);
  }

  clear(): void {
    if (this.text === undefined) return;
    this.text = undefined;
    this.out.write(ERASE_LINE);
  }

  /** `sink`, with the status line erased before each log line and drawn again after it. */
  around(sink: LogSink): LogSink {
    return {
      write: (line: string) => {
        const shown = this.text;
        if (shown !== undefined) this.out.write(ERASE_LINE);
        sink.write(line);
        if (shown !== undefined) this.out.write(shown);
      },
    };
  }
}
