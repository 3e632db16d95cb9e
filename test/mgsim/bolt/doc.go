// Package bolt is the Bolt wire layer of mgsim, the Memgraph Community 3.x
// emulator that our tests drive with the real neo4j-go-driver v5. It owns
// the socket, the handshake, chunking, PackStream and the per-connection
// Bolt state machine, and calls a Backend/Session (the query engine) to
// execute. It answers as Memgraph does (src/communication/bolt/v1/states/*),
// not as the Bolt specification says, wherever the two differ.
//
// Usage:
//
//	srv, err := bolt.NewServer(bolt.Config{}, engine) // engine implements Backend
//	go srv.Serve(ln)                                  // ln from net.Listen
//	...
//	srv.Close() // kill -9: every listener and connection closes at once
//
// Each connection runs on one goroutine:
//
//	handshake (HandshakeTimeout) -> Backend.Open -> loop {
//	    read one message (IdleTimeout, MaxMessageSize, de-chunk, skip NOOPs)
//	    decode it (Config.Limits), dispatch it by state, stage the replies
//	} -> Session.Close
//
// Replies are written to a buffered writer and flushed only when the input
// buffer is drained, so a pipelined batch (HELLO+LOGON, RUN+PULL) gets one
// batch of replies.
//
// Guarantees:
//
//   - Handshake as Memgraph's handshake.hpp (see Negotiate); no common
//     version or a wrong magic closes the socket without a reply.
//   - States: Authentication -> Ready <-> Streaming, Ready -> TxReady <->
//     TxStreaming -> Ready; FAILURE -> Failed, where every message but RESET
//     is answered IGNORED (GOODBYE too, as in Memgraph) and RESET returns to
//     Ready. RESET is handled in order, never as a jump-ahead interrupt.
//   - A message unexpected in the current state (RUN while streaming, PULL
//     when idle, HELLO after authentication), an unknown tag (TELEMETRY
//     included: Memgraph speaks 5.2), a wrong field count or type, or
//     undecodable bytes close the connection without a FAILURE.
//   - Authentication failure sends FAILURE (Unauthenticated) then closes.
//   - qid is sent in RUN's SUCCESS only inside an explicit transaction,
//     counting from 0 in each transaction; no t_first, no bookmarks.
//   - At most one result is open at a time, as in Memgraph: a RUN while a
//     result still has records closes the connection.
//   - The Session is called only from the connection's goroutine. The
//     server answers BEGIN inside a transaction and COMMIT/ROLLBACK outside
//     one itself, with Memgraph's ClientError messages (MessageNestedTx,
//     MessageNoTxCommit, MessageNoTxRollback).
//   - Every input is bounded: handshake and idle timeouts, write timeout,
//     message size, PackStream decode limits.
//
// Deliberate deviations from Memgraph:
//
//   - Bolt 1.0 is not implemented, so it is never offered; Memgraph also
//     accepts 1.0. No client we test with proposes it.
//   - LOGOFF is answered SUCCESS {} (Memgraph HEAD sends nothing and moves
//     to its Init state) and it also resets the Session.
//   - ROUTE is accepted only when no result is open (Ready, TxReady);
//     Memgraph accepts it in any executing state.
//   - Memgraph tolerates HELLO with a wrong field count in 4.x (a Java
//     driver quirk); the emulator closes the connection.
//   - connection_id is "bolt-1" for every connection, as in Memgraph, and
//     the server string is always sent (Memgraph omits it when its flag is
//     empty).
package bolt
