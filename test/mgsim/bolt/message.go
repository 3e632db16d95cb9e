package bolt

// Message and structure tags (Memgraph codes.hpp, Bolt spec).
const (
	// Client requests.
	TagHello     byte = 0x01
	TagGoodbye   byte = 0x02
	TagReset     byte = 0x0F
	TagRun       byte = 0x10
	TagBegin     byte = 0x11
	TagCommit    byte = 0x12
	TagRollback  byte = 0x13
	TagDiscard   byte = 0x2F
	TagPull      byte = 0x3F
	TagTelemetry byte = 0x54 // Bolt 5.4+; not accepted here (Memgraph speaks 5.2)
	TagRoute     byte = 0x66 // Bolt 4.3+
	TagLogon     byte = 0x6A // Bolt 5.1+
	TagLogoff    byte = 0x6B // Bolt 5.1+

	// Server responses.
	TagSuccess byte = 0x70
	TagRecord  byte = 0x71
	TagIgnored byte = 0x7E
	TagFailure byte = 0x7F

	// TagNode is the Node value structure.
	TagNode byte = 0x4E
)

// ConnectionID is the connection_id Memgraph sends for every connection.
const ConnectionID = "bolt-1"

// Memgraph's messages for misused explicit transactions (interpreter.cpp,
// ExplicitTransactionUsageException), sent with CodeClientError by the
// server itself: the Session never sees these requests.
const (
	MessageNestedTx     = "Nested transactions are not supported."
	MessageNoTxCommit   = "No current transaction to commit."
	MessageNoTxRollback = "No current transaction to rollback."
	// MessageAuthFailure is sent with CodeUnauthenticated for an
	// authentication scheme other than "basic" and "none", and when
	// Authenticate fails with an error that is not an *Error.
	MessageAuthFailure = "Authentication failure"
)
