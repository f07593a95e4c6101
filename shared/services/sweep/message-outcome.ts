/** What each step of the sweep did with its queue message. */
export type MessageOutcome =
  | 'planned'
  | 'planYielded'
  | 'shardDone'
  | 'shardYielded'
  | 'shardSuperseded'
  | 'finalized'
  | 'importPolled'
  | 'retentionYielded'
  | 'ignored';
