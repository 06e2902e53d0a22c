/** The record of dead-letter redrives (docs/recovery.md): one mark per dead-letter ID. */
export type RedriveState = 'new' | 'sending' | 'done';

export interface RedriveMarks {
  /** Creates the `sending` mark when there is none; returns the state found before. */
  begin(deadLetterId: string): Promise<RedriveState>;
  finish(deadLetterId: string, position: string): Promise<void>;
}
