package openstacktest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// AppendConsole adds lines to a server's console log, which clients read
// with Nova's os-getConsoleOutput action, as they read cloud-init's output
// on a real cloud. Boot hooks use it to report what a machine did. It is a
// no-op for a server that does not exist.
func (s *Server) AppendConsole(serverID string, lines ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.st.Compute.Servers[serverID]
	if !ok {
		return
	}
	for _, l := range lines {
		v.Console = append(v.Console, strings.Split(strings.TrimRight(l, "\n"), "\n")...)
	}
	if err := s.save(); err != nil {
		s.opts.log.Error(err, "save state")
	}
}

// consoleOutput answers os-getConsoleOutput as Nova does: 409 while the
// server has no host (here: while it builds), then the log cut by
// compute's _tail_log: split on newlines, the last `length` pieces joined
// again (so a log that ends in a newline has an empty last line), nothing
// for 0, and for -1, which the API documents as "all", Python's
// lines[1:], every line but the first.
func (s *Server) consoleOutput(w http.ResponseWriter, v *nServer, raw json.RawMessage) {
	var body struct {
		Length json.RawMessage `json:"length"`
	}
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &body); err != nil {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute os-getConsoleOutput."))
			return
		}
	}
	n, all := 0, true
	if l := string(body.Length); l != "" && l != "null" {
		quoted := strings.HasPrefix(l, `"`)
		l = strings.Trim(l, `"`)
		v, err := strconv.Atoi(l)
		if err != nil || (!quoted && v < -1) {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute length. Value: %s.", l))
			return
		}
		n, all = v, false
	}
	if v.Status == "BUILD" {
		s.writeError(w, svcCompute, errorf(http.StatusConflict, "", "Instance %s is not ready", v.ID))
		return
	}
	out := strings.Join(v.Console, "\n")
	if len(v.Console) > 0 {
		out += "\n"
	}
	if !all {
		out = tailLog(out, n)
	}
	writeJSON(w, http.StatusOK, map[string]string{"output": out})
}

// tailLog is nova.compute.manager's _tail_log: log.split('\n')[-n:]
// joined, "" for 0.
func tailLog(log string, n int) string {
	if n == 0 {
		return ""
	}
	lines := strings.Split(log, "\n")
	from := len(lines) - n // Python's [-n:]
	if n < 0 {
		from = -n
	}
	from = min(max(from, 0), len(lines))
	return strings.Join(lines[from:], "\n")
}
