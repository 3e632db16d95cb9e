package bolt

import "net"

// Version is a negotiated Bolt protocol version.
type Version struct{ Major, Minor uint8 }

// ConnInfo describes one accepted Bolt connection after its handshake.
type ConnInfo struct {
	Remote  net.Addr
	Version Version
}

// Backend opens a Session for every connection that completed the handshake.
// The server calls a Session from one goroutine only (the connection's), in
// message order, so a Session needs no locking of its own state.
type Backend interface {
	Open(info ConnInfo) Session
}

// Session is the query engine's side of one Bolt connection. The server owns
// the Bolt state machine (Ready, Streaming, TxReady, TxStreaming, Failed,
// Defunct); the Session only executes. Any error that is an *Error is sent to
// the client as FAILURE{code, message}; any other error is sent as
// Memgraph.DatabaseError.MemgraphError.MemgraphError with Memgraph's
// "unknown exception" message.
type Session interface {
	// Authenticate checks credentials (HELLO in Bolt 4.x, LOGON in 5.1+).
	// scheme is "none" or "basic". A failure must be an *Error with code
	// CodeUnauthenticated; the server then closes the connection.
	// (The server itself refuses other schemes, without calling
	// Authenticate; a non-*Error failure is sent as CodeUnauthenticated
	// with MessageAuthFailure.)
	Authenticate(scheme, principal, credentials string) error

	// Run prepares a query. inTx is true inside BEGIN...COMMIT. Errors that
	// Memgraph raises at prepare time (syntax, write on replica, replication
	// query in a transaction) are returned here.
	// The server adds qid to RUN's SUCCESS when inTx. Run is only called
	// when no result is open.
	Run(query string, params map[string]any, extra map[string]any, inTx bool) (fields []string, err error)

	// Pull returns up to n records (n < 0: all) of the current result. When
	// the result is exhausted, done is true and summary holds the final
	// metadata (type, db, stats, notifications...; the server adds
	// has_more:false). When rows remain, done is false and the server sends
	// SUCCESS{has_more:true}. For an auto-commit query the commit happens in
	// the Pull that exhausts the result, so a replication error surfaces here.
	// Values may be anything packstream.Append encodes, plus Node and *Node
	// at any depth. When err is non-nil the records are not sent.
	Pull(n int64) (records [][]any, done bool, summary map[string]any, err error)

	// Discard drops up to n records (n < 0: all), with the same done/summary
	// contract as Pull.
	Discard(n int64) (done bool, summary map[string]any, err error)

	// Begin opens an explicit transaction. It is called only outside one;
	// the server answers a nested BEGIN itself (MessageNestedTx).
	Begin(extra map[string]any) error
	// Commit commits the explicit transaction; summary may be empty. It is
	// called only inside a transaction with no open result; the server
	// answers COMMIT outside a transaction itself (MessageNoTxCommit).
	Commit() (summary map[string]any, err error)
	// Rollback aborts the explicit transaction. Called as Commit is.
	Rollback() error
	// Reset aborts any transaction and drops any open result. It is called
	// for RESET (in any state after authentication) and LOGOFF.
	Reset()
	// Route answers a ROUTE message. db is "" when absent or null. table is
	// the routing table {ttl, db, servers:[{role, addresses}]}; the server
	// sends SUCCESS {rt: table}, or table itself if it has an "rt" key.
	Route(routing map[string]any, bookmarks []any, db string) (table map[string]any, err error)
	// Close is called once when the connection ends, however it ends.
	Close()
}

// Error is a Bolt FAILURE sent to the client.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Bolt failure codes Memgraph uses.
const (
	CodeClientError     = "Memgraph.ClientError.MemgraphError.MemgraphError"
	CodeTransientError  = "Memgraph.TransientError.MemgraphError.MemgraphError"
	CodeDatabaseError   = "Memgraph.DatabaseError.MemgraphError.MemgraphError"
	CodeUnauthenticated = "Memgraph.ClientError.Security.Unauthenticated"
	// MessageUnknown is the message Memgraph sends with CodeDatabaseError for
	// exceptions it did not expect.
	MessageUnknown = "An unknown exception occurred, this is unexpected. Real message should be in database logs."
)

// Node is a graph node in a record. The server encodes it as the Bolt Node
// structure of the negotiated version (3 fields in 4.x; 4 fields with
// element_id, the decimal id as a string, in 5.x).
type Node struct {
	ID     int64
	Labels []string
	Props  map[string]any
}
