// Package sockdup takes a socket's descriptor out of Go's netpoller: Dup
// duplicates it, and once the caller closes the net.Conn the duplicate is a
// plain descriptor that Go no longer watches. The gateway's event loops own
// sockets this way, and so do the benchmark's load generator and cut floor.
//
// Invariant: the duplicate shares the open file, so it stays non-blocking
// as the original was, and it is close-on-exec.
package sockdup
