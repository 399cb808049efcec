package openstacktest

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// apiVersion is a microversion such as 2.60.
type apiVersion struct{ major, minor int }

func parseAPIVersion(s string) (apiVersion, bool) {
	maj, min, ok := strings.Cut(strings.TrimSpace(s), ".")
	if !ok {
		return apiVersion{}, false
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 {
		return apiVersion{}, false
	}
	return apiVersion{a, b}, true
}

func (v apiVersion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

func (v apiVersion) less(o apiVersion) bool {
	return v.major < o.major || v.major == o.major && v.minor < o.minor
}

// atLeast reports whether v >= major.minor.
func (v apiVersion) atLeast(major, minor int) bool { return !v.less(apiVersion{major, minor}) }

// legacyVersionHeaders are the pre-standard microversion headers.
var legacyVersionHeaders = map[string]string{
	"compute": "X-OpenStack-Nova-API-Version",
	"volume":  "X-OpenStack-Volume-API-Version",
}

// microversion reads the microversion the request asks of svc (the
// standard OpenStack-API-Version header, or the legacy one), answers with
// the version headers and returns it. Without a header the minimum
// applies; "latest" is the maximum; outside [min, max] is a 406, as the
// real services answer.
func (s *Server) microversion(w http.ResponseWriter, r *http.Request, svc, minV, maxV string) (apiVersion, *apiError) {
	lo, _ := parseAPIVersion(minV)
	hi, _ := parseAPIVersion(maxV)
	req := ""
	for _, h := range r.Header.Values("OpenStack-API-Version") {
		for _, part := range strings.Split(h, ",") {
			if name, ver, ok := strings.Cut(strings.TrimSpace(part), " "); ok && name == svc {
				req = ver
			}
		}
	}
	if req == "" {
		if legacy := legacyVersionHeaders[svc]; legacy != "" {
			req = r.Header.Get(legacy)
		}
	}
	v := lo
	switch strings.TrimSpace(req) {
	case "":
	case "latest":
		v = hi
	default:
		var ok bool
		v, ok = parseAPIVersion(req)
		if !ok {
			return v, errorf(http.StatusBadRequest, "", "API Version String %s is of invalid format. Must be of format MajorNum.MinorNum.", req)
		}
		if v.less(lo) || hi.less(v) {
			return v, errorf(http.StatusNotAcceptable, "", "Version %s is not supported by the API. Minimum is %s and maximum is %s.", req, lo, hi)
		}
	}
	w.Header().Set("OpenStack-API-Version", svc+" "+v.String())
	if legacy := legacyVersionHeaders[svc]; legacy != "" {
		w.Header().Set(legacy, v.String())
	}
	w.Header().Add("Vary", "OpenStack-API-Version")
	if legacy := legacyVersionHeaders[svc]; legacy != "" {
		w.Header().Add("Vary", legacy)
	}
	return v, nil
}
