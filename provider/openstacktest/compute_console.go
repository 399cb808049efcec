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

// consoleOutput answers os-getConsoleOutput: the last `length` lines (all
// when absent or null), 409 while the server is still building.
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
	n := -1
	if l := strings.Trim(string(body.Length), `"`); l != "" && l != "null" {
		v, err := strconv.Atoi(l)
		if err != nil || v < -1 {
			s.writeError(w, svcCompute, badRequest("Invalid input for field/attribute length. Value: %s.", l))
			return
		}
		n = v
	}
	if v.Status == "BUILD" {
		s.writeError(w, svcCompute, errorf(http.StatusConflict, "",
			"Cannot 'get_console_output' instance %s while it is in vm_state building", v.ID))
		return
	}
	lines := v.Console
	if n >= 0 && n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "\n")
	if len(lines) > 0 {
		out += "\n"
	}
	writeJSON(w, http.StatusOK, map[string]string{"output": out})
}
