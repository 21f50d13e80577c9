"""The audit record: the write-ahead log, its hash chain, queries over it and the kinds of event it holds."""
