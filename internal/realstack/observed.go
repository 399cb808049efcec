package realstack

import "encoding/json"

// Observed is one request to the real services and their answer, as
// smoke.sh records it under testdata/observed: the simulator lane replays
// them (provider/openstacktest) and this package checks their format.
type Observed struct {
	Request struct {
		Method  string            `json:"method"`
		Service string            `json:"service"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"request"`
	Response struct {
		Status int             `json:"status"`
		Body   json.RawMessage `json:"body"`
	} `json:"response"`
}
