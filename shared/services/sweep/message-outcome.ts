/** What each step of the sweep did with its queue message. */
export type MessageOutcome = 'planned' | 'shardDone' | 'shardYielded' | 'shardSuperseded' | 'finalized' | 'importPolled' | 'ignored';
