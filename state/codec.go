package state

import (
	"encoding/json"
	"fmt"
)

// MaxEncodedSize bounds an encoded route. A route at every limit of
// Validate (MaxReplicas replicas with the longest names and addresses)
// fits; anything larger is refused before it is parsed. It is also well
// under the 256 KiB Kubernetes allows for all annotations of an object.
const MaxEncodedSize = 128 << 10

// Encode returns r as JSON. It refuses an invalid route and one larger
// than MaxEncodedSize.
func Encode(r Route) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("state: encode route: %w", err)
	}
	if len(data) > MaxEncodedSize {
		return nil, fmt.Errorf("%w: encoded route is %d bytes (at most %d)", ErrInvalid, len(data), MaxEncodedSize)
	}
	return data, nil
}

// Decode parses a route written by Encode. Input longer than
// MaxEncodedSize is refused unread, and the result must pass Validate.
// Unknown fields are ignored, so that a record written by a newer version
// still reads; a field's zero value must mean the old behaviour.
func Decode(data []byte) (Route, error) {
	if len(data) > MaxEncodedSize {
		return Route{}, fmt.Errorf("%w: %d bytes (at most %d)", ErrCorrupt, len(data), MaxEncodedSize)
	}
	var r Route
	if err := json.Unmarshal(data, &r); err != nil {
		return Route{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if err := r.Validate(); err != nil {
		return Route{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return r, nil
}
