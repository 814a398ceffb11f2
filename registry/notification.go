package registry

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// s3Notification is the body S3 sends to SQS for bucket events.
type s3Notification struct {
	Event   string `json:"Event"`
	Records []struct {
		EventSource string `json:"eventSource"`
		EventName   string `json:"eventName"`
		S3          struct {
			Bucket struct {
				Name string `json:"name"`
			} `json:"bucket"`
			Object struct {
				Key string `json:"key"`
			} `json:"object"`
		} `json:"s3"`
	} `json:"Records"`
}

// ParseNotification returns the object events of an S3 event notification
// (an SQS message body). The s3:TestEvent S3 sends when notifications are
// configured holds none.
func ParseNotification(body string) ([]Event, error) {
	var n s3Notification
	if err := json.Unmarshal([]byte(body), &n); err != nil {
		return nil, fmt.Errorf("not an S3 event notification: %w", err)
	}
	if n.Event == "s3:TestEvent" {
		return nil, nil
	}
	var out []Event
	for _, r := range n.Records {
		if r.EventSource != "aws:s3" || !(strings.HasPrefix(r.EventName, "ObjectCreated:") || strings.HasPrefix(r.EventName, "ObjectRemoved:")) {
			continue
		}
		// Keys arrive form-encoded: spaces as '+', the rest %-escaped.
		key, err := url.QueryUnescape(r.S3.Object.Key)
		if err != nil {
			return nil, fmt.Errorf("event key %q: %w", r.S3.Object.Key, err)
		}
		out = append(out, Event{Bucket: r.S3.Bucket.Name, Key: key})
	}
	return out, nil
}
