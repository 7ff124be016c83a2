package restapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"

	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

func TestParseKeys(t *testing.T) {
	long := strings.Repeat("k", MinKeyLength)
	sum := sha256.Sum256([]byte("hashed-" + long))
	data := strings.Join([]string{
		"# comment",
		"",
		"alice:viewer:" + long,
		"bob:operator:sha256:" + hex.EncodeToString(sum[:]),
		"carol:admin:" + long + "-with:colons",
		"dave:root:" + long + "x",    // unknown role
		"erin:viewer:short",          // short key
		"alice:admin:" + long + "y",  // id taken
		"frank:viewer:" + long,       // key taken
		"Grace:viewer:" + long + "z", // bad id
		"heidi:viewer:sha256:abcd",   // bad hash
		"no-colons-at-all",           // not a line
	}, "\n")
	keys, problems := ParseKeys(data)
	if keys.Len() != 3 || len(problems) != 7 {
		t.Fatalf("got %d keys and problems %q", keys.Len(), problems)
	}
	for _, p := range problems {
		if strings.Contains(p, long) {
			t.Fatalf("a problem names the key: %q", p)
		}
	}
	for _, tc := range []struct {
		key, id string
		role    Role
		ok      bool
	}{
		{long, "alice", RoleViewer, true},
		{"hashed-" + long, "bob", RoleOperator, true},
		{long + "-with:colons", "carol", RoleAdmin, true},
		{"sha256:" + hex.EncodeToString(sum[:]), "", RoleNone, false},
		{long + "x", "", RoleNone, false},
		{"", "", RoleNone, false},
	} {
		id, role, ok := keys.Lookup(tc.key)
		if id != tc.id || role != tc.role || ok != tc.ok {
			t.Errorf("Lookup(%q) = %q %v %v, want %q %v %v", tc.key, id, role, ok, tc.id, tc.role, tc.ok)
		}
	}
	var none *Keys
	if _, _, ok := none.Lookup(long); ok {
		t.Fatal("no keys let a key in")
	}
}

func TestParseListQuery(t *testing.T) {
	q, _ := url.ParseQuery("namespace=shop&state=resolved,Escalated&state=detected&severity=High&kind=Deployment&name=checkout&uid=u1&page_size=10&page_token=t")
	req, err := ParseListQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	if req.GetNamespace() != "shop" || len(req.GetStates()) != 3 || req.GetStates()[2] != correlatorv1.IncidentState_INCIDENT_STATE_DETECTED ||
		req.GetSeverities()[0] != "high" || req.GetResource().GetKind() != "Deployment" || req.GetResource().GetUid() != "u1" ||
		req.GetPageSize() != 10 || req.GetPageToken() != "t" {
		t.Fatalf("parsed %v", req)
	}
	for _, bad := range []string{"state=unspecified", "state=open", "page_size=ten", "page_size=99999999999", "namespace=a&namespace=b", "limit=5"} {
		q, _ := url.ParseQuery(bad)
		if _, err := ParseListQuery(q); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

// FuzzParseListQuery: any query parses or is refused, never panics, and
// what parses holds only known states.
func FuzzParseListQuery(f *testing.F) {
	for _, seed := range []string{"", "namespace=a&state=resolved", "state=,,,&severity=%00", "page_size=-1", "kind=Deployment&name=x&uid=y", "a=1&a=2", "%zz"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req, err := ParseListQuery(q)
		if err != nil {
			return
		}
		for _, st := range req.GetStates() {
			if _, known := correlatorv1.IncidentState_name[int32(st)]; !known || st == 0 {
				t.Fatalf("%q gave state %d", raw, st)
			}
		}
	})
}

func TestNormalizeOrigin(t *testing.T) {
	for in, want := range map[string]string{"https://Dash.Example.com": "https://dash.example.com", "http://localhost:3000/": "http://localhost:3000"} {
		if got, err := NormalizeOrigin(in); err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"*", "dash.example.com", "https://x/path", "ftp://x", "https://user@x"} {
		if _, err := NormalizeOrigin(bad); err == nil {
			t.Errorf("%s was accepted", bad)
		}
	}
}

// FuzzParseKeys: any Secret content parses without a panic, and no problem
// it reports quotes a key.
func FuzzParseKeys(f *testing.F) {
	f.Add("alice:viewer:" + strings.Repeat("k", MinKeyLength) + "\n# c\nbob:root:x")
	f.Add("a:admin:sha256:zz\n\n::\n:::")
	// The fixed words of the problems, which a key may happen to repeat.
	templates := "not <key-id>:<role>:<key> key id is not 1-63 lowercase letters, digits, '.', '_' or '-' role is not viewer, operator or admin " +
		"sha256: needs 64 hex digits the key is shorter than characters the key id or the key is already used by an earlier line reading the keys: line"
	f.Fuzz(func(t *testing.T, data string) {
		keys, problems := ParseKeys(data)
		for _, line := range strings.Split(data, "\n") {
			parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
			if len(parts) < 3 || len(parts[2]) < 12 {
				continue
			}
			for _, p := range problems {
				if strings.Contains(p, parts[2]) && !strings.Contains(parts[0]+parts[1]+templates, parts[2]) {
					t.Fatalf("problem %q quotes the key %q", p, parts[2])
				}
			}
		}
		_, _, _ = keys.Lookup(data)
	})
}
