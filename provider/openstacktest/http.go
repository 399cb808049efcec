package openstacktest

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"
)

// service names the API a route belongs to; it decides the error body shape.
type service string

const (
	svcIdentity     service = "identity"
	svcCompute      service = "compute"
	svcNetwork      service = "network"
	svcLoadBalancer service = "load-balancer"
	svcImage        service = "image"
	svcVolume       service = "volume"
)

// tokenRoute is the Keystone token request, left out of Calls.Writes.
const tokenRoute = "POST /identity/v3/auth/tokens"

// apiError is an OpenStack API error, rendered in the shape of the service
// that answers.
type apiError struct {
	Status int
	// Type is Neutron's error type ("NetworkNotFound", ...) or Nova's fault
	// key ("itemNotFound", ...); derived from Status when empty.
	Type    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Type, e.Message) }

func errorf(status int, typ, format string, args ...any) *apiError {
	return &apiError{Status: status, Type: typ, Message: fmt.Sprintf(format, args...)}
}

// handlerFunc serves one route. tok is nil on routes that need no token.
// Handlers run with s.mu held and must not lock it.
type handlerFunc func(w http.ResponseWriter, r *http.Request, tok *token)

type routeOpts struct {
	public bool // no token needed
}

// handle registers pattern (with its service prefix, such as
// "GET /network/v2.0/ports/{id}") for svc.
func (s *Server) handle(svc service, pattern string, h handlerFunc, ro ...routeOpts) {
	var o routeOpts
	if len(ro) > 0 {
		o = ro[0]
	}
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advanceLocked()
		var tok *token
		if !o.public {
			var aerr *apiError
			tok, aerr = s.authenticate(r)
			if aerr != nil {
				s.writeError(w, svcIdentity, aerr)
				return
			}
		}
		h(w, r, tok)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := s.save(); err != nil {
				s.opts.log.Error(err, "save state")
			}
		}
	})
}

// serveHTTP counts, delays and faults requests before routing them.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	if pattern == "" {
		pattern = r.Method + " (unrouted)"
	}
	s.callsMu.Lock()
	s.calls[pattern]++
	latency := s.latency
	s.callsMu.Unlock()
	s.opts.log.V(1).Info("request", "method", r.Method, "path", r.URL.Path)

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.ctx.Done():
			t.Stop()
			return
		}
	}

	f := s.faults.match(r)
	if f == nil {
		s.mux.ServeHTTP(w, r)
		return
	}
	switch f.Action {
	case Respond:
		for k, v := range f.Header {
			w.Header()[k] = v
		}
		if f.Body != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(f.Status)
			_, _ = w.Write([]byte(f.Body))
			return
		}
		s.writeError(w, serviceOf(r.URL.Path), &apiError{Status: f.Status, Message: "injected fault"})
	case DropBefore:
		dropConnection(w)
	case DropAfter:
		bw := &bufferedWriter{header: http.Header{}}
		s.mux.ServeHTTP(bw, r)
		dropConnection(w)
	case Hang:
		select {
		case <-r.Context().Done():
		case <-s.ctx.Done():
		}
	}
}

func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	conn.Close()
}

func serviceOf(path string) service {
	for _, svc := range []service{svcIdentity, svcCompute, svcNetwork, svcLoadBalancer, svcImage, svcVolume} {
		if strings.HasPrefix(path, "/"+string(svc)+"/") || path == "/"+string(svc) {
			return svc
		}
	}
	return svcIdentity
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

// decodeJSON reads the request body into v; a malformed body is a 400.
func decodeJSON(r *http.Request, v any) *apiError {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "", "Malformed request body: %v", err)
	}
	return nil
}

var novaFaultKeys = map[int]string{
	400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
	405: "badMethod", 409: "conflictingRequest", 413: "overLimit", 429: "overLimit",
	500: "computeFault", 501: "notImplemented", 503: "serviceUnavailable",
}

var neutronTypes = map[int]string{
	400: "HTTPBadRequest", 401: "HTTPUnauthorized", 403: "HTTPForbidden", 404: "HTTPNotFound",
	409: "HTTPConflict", 413: "HTTPRequestEntityTooLarge", 429: "HTTPTooManyRequests",
	500: "HTTPInternalServerError", 503: "HTTPServiceUnavailable",
}

// writeError renders e the way svc's real API does.
func (s *Server) writeError(w http.ResponseWriter, svc service, e *apiError) {
	switch svc {
	case svcIdentity:
		writeJSON(w, e.Status, map[string]any{"error": map[string]any{
			"code": e.Status, "title": http.StatusText(e.Status), "message": e.Message}})
	case svcCompute, svcVolume:
		key := e.Type
		if key == "" {
			key = novaFaultKeys[e.Status]
			if key == "" {
				key = "computeFault"
			}
		}
		body := map[string]any{"code": e.Status, "message": e.Message}
		if svc == svcVolume && e.Status == http.StatusRequestEntityTooLarge {
			// Cinder's overLimit carries a retryAfter (recorded: "0").
			body["retryAfter"] = "0"
		}
		writeJSON(w, e.Status, map[string]any{key: body})
	case svcNetwork:
		typ := e.Type
		if typ == "" {
			typ = neutronTypes[e.Status]
		}
		writeJSON(w, e.Status, map[string]any{"NeutronError": map[string]any{
			"type": typ, "message": e.Message, "detail": ""}})
	case svcLoadBalancer:
		code := "Client"
		if e.Status >= 500 {
			code = "Server"
		}
		writeJSON(w, e.Status, map[string]any{"faultcode": code, "faultstring": e.Message, "debuginfo": nil})
	case svcImage:
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.WriteHeader(e.Status)
		title := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
		fmt.Fprintf(w, "<html>\n <head>\n  <title>%s</title>\n </head>\n <body>\n  <h1>%s</h1>\n  %s<br /><br />\n\n\n\n </body>\n</html>",
			title, title, html.EscapeString(e.Message))
	}
}
