package script

import lua "github.com/yuin/gopher-lua"

// The Go values Lua holds as userdata: packets, layer views, IPv4
// options and patterns, each with a type metatable registered by name.

// pushUD wraps v as a userdata with the type metatable typ.
func pushUD(L *lua.LState, v any, typ string) lua.LValue {
	ud := L.NewUserData()
	ud.Value = v
	L.SetMetatable(ud, L.GetTypeMetatable(typ))
	return ud
}

// fromUD returns the T a userdata holds, or the zero T.
func fromUD[T any](v lua.LValue) T {
	var zero T
	if ud, ok := v.(*lua.LUserData); ok {
		if x, ok := ud.Value.(T); ok {
			return x
		}
	}
	return zero
}

// checkUD returns argument n as a T or raises an error saying what was
// wanted (want: "a pattern (pattern(\"a5\", 56) …)").
func checkUD[T comparable](L *lua.LState, n int, want string) T {
	var zero T
	x := fromUD[T](L.Get(n))
	if x == zero {
		L.RaiseError("argument %d is %s, want %s", n, describe(L.Get(n)), want)
	}
	return x
}
