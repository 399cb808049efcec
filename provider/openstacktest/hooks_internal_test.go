package openstacktest

import "testing"

func TestSanitizeHostname(t *testing.T) {
	for name, want := range map[string]string{
		"node-0":         "node-0",
		"Node_0.Example": "node-0-example",
		"  -a b!c-.":     "a-bc",
		"":               "Server-id1",
		"日本":             "Server-id1",
		"caf\u00e9":      "caf\u00e9",
	} {
		if got := sanitizeHostname(name, "id1"); got != want {
			t.Errorf("sanitizeHostname(%q) = %q, want %q", name, got, want)
		}
	}
	long := ""
	for range 70 {
		long += "a"
	}
	if got := sanitizeHostname(long, "id1"); len(got) != 63 {
		t.Errorf("long name: %d characters, want 63", len(got))
	}
}
