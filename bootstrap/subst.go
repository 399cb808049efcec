package bootstrap

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrMissingVariables matches a *MissingVariablesError with errors.Is.
var ErrMissingVariables = errors.New("missing variables")

// MissingVariablesError lists every variable the manifests reference without
// a value or a default. It names the variables, never values.
type MissingVariablesError struct {
	Names []string // sorted, each once
}

func (e *MissingVariablesError) Error() string {
	return fmt.Sprintf("missing variables: %s (give them with Variables or, with VariablesFromEnv, in the environment)",
		strings.Join(e.Names, ", "))
}

// Is makes errors.Is(err, ErrMissingVariables) true.
func (e *MissingVariablesError) Is(target error) bool { return target == ErrMissingVariables }

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// substitute replaces clusterctl-style variable references in s:
//
//	${NAME}            the value; missing when unset
//	${NAME:=default}   the value, or default when unset or empty (also :-)
//	${NAME=default}    the value, or default when unset (also -)
//
// Text that is not such a reference (including a bare $NAME) is left as it
// is. It returns the result and the names that had no value.
func substitute(s string, lookup func(string) (string, bool)) (string, []string) {
	var b strings.Builder
	var missing []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		rest := s[i+2:]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		expr := rest[:end]
		name, op, def := expr, "", ""
		if j := strings.IndexAny(expr, ":=-"); j >= 0 {
			name = expr[:j]
			switch {
			case strings.HasPrefix(expr[j:], ":="), strings.HasPrefix(expr[j:], ":-"):
				op, def = ":=", expr[j+2:]
			case expr[j] == '=' || expr[j] == '-':
				op, def = "=", expr[j+1:]
			default:
				op = "bad"
			}
		}
		if !validVarName(name) || op == "bad" {
			// Not a variable reference: keep "${" and go on after it.
			b.WriteString("${")
			s = rest
			continue
		}
		v, ok := lookup(name)
		switch {
		case op == ":=" && (!ok || v == ""), op == "=" && !ok:
			v = def
		case !ok:
			missing = append(missing, name)
		}
		b.WriteString(v)
		s = rest[end+1:]
	}
	return b.String(), missing
}

// substituteAll substitutes every manifest and reports all missing variables
// together.
func substituteAll(manifests [][]byte, lookup func(string) (string, bool)) ([][]byte, error) {
	out := make([][]byte, len(manifests))
	var missing []string
	for i, m := range manifests {
		s, miss := substitute(string(m), lookup)
		out[i] = []byte(s)
		missing = append(missing, miss...)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, &MissingVariablesError{Names: slices.Compact(missing)}
	}
	return out, nil
}

// Substitute replaces the clusterctl-style variable references of manifest
// (${VAR}, ${VAR:=default}, ${VAR=default}) with vars, as Install does with
// Variables. If any reference has neither a value nor a default it returns
// a *MissingVariablesError naming all of them, and no text. Values are
// never part of an error.
func Substitute(manifest []byte, vars map[string]string) ([]byte, error) {
	out, err := substituteAll([][]byte{manifest}, func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		return nil, err
	}
	return out[0], nil
}
