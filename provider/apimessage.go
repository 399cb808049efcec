package provider

import (
	"encoding/json"
	"regexp"
	"strings"
)

var htmlTag = regexp.MustCompile(`<[^>]*>`)

// apiMessage extracts the human message from an OpenStack error body. The
// services disagree on the shape: Neutron wraps it in NeutronError, Octavia
// uses faultstring, Keystone "error", Nova and Cinder a key named after the
// fault, Glance answers HTML.
func apiMessage(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		text := strings.Join(strings.Fields(htmlTag.ReplaceAllString(string(body), " ")), " ")
		if len(text) > 300 {
			text = text[:300] + "..."
		}
		return text
	}
	if raw, ok := doc["faultstring"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	for _, raw := range doc {
		var inner struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &inner) == nil && inner.Message != "" {
			return inner.Message
		}
	}
	return ""
}
