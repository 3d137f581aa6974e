package packet

import "fmt"

// FieldError reports a value a builder or parser cannot accept. It names the
// field (as "ip.ttl", "ip.options[1].slots", "tcp.options"), the offending
// value and the limit it broke, so a user can fix the probe without reading
// the source.
type FieldError struct {
	Field string // dotted field name, as the Lua API spells it
	Value any    // the value that was given or found
	Limit string // what would have been accepted
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("packet: %s = %v: %s", e.Field, e.Value, e.Limit)
}

// fieldErr is shorthand for returning a *FieldError.
func fieldErr(field string, value any, format string, args ...any) error {
	return &FieldError{Field: field, Value: value, Limit: fmt.Sprintf(format, args...)}
}
