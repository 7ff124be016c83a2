package incidents

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"slices"

	correlatorv1 "github.com/chatcli/aiops/proto/chatcli/platform/correlator/v1"
)

// A page token is the position after the last incident of a page, bound
// to the filters it was issued for:
//
//	base64url( 0x01 | varint(createdUnix) | uvarint(len) namespace | uvarint(len) name | tag )
//
// where tag is the first 16 bytes of HMAC-SHA256(key, digest(filters) |
// position). The position is a key of the list's order (newest first, then
// namespace and name), not an offset, so incidents created between two
// pages neither repeat nor skip one. The tag makes a token for other
// filters, a truncated or an altered one, InvalidArgument. The key is the
// same on every replica and across restarts, so any replica continues a
// list another began.

const (
	pageTokenVersion = 1
	pageTokenTagSize = 16
	// maxPageTokenLength bounds what is decoded at all; a real token is
	// under 450 characters (two 253-byte names at most).
	maxPageTokenLength = 1024
)

// errBadPageToken is every reason a token is refused; the caller is told
// only that it is not one this server issued.
var errBadPageToken = errors.New("page_token is not one this server issued for these filters")

// pagePosition is the sort key of the last incident of a page.
type pagePosition struct {
	CreatedUnix int64
	Namespace   string
	Name        string
}

// filterDigest is a canonical hash of the filters a list was asked with:
// the same filters in another order give the same digest. page_size is not
// part of it, so a caller may change the page size between pages.
func filterDigest(req *correlatorv1.ListIncidentsRequest) []byte {
	states := make([]int32, 0, len(req.GetStates()))
	for _, s := range req.GetStates() {
		states = append(states, int32(s))
	}
	slices.Sort(states)
	states = slices.Compact(states)
	severities := slices.Clone(req.GetSeverities())
	slices.Sort(severities)
	severities = slices.Compact(severities)
	r := req.GetResource()
	canonical, _ := json.Marshal(struct {
		Namespace  string   `json:"ns"`
		States     []int32  `json:"st"`
		Severities []string `json:"sev"`
		Kind       string   `json:"k"`
		Name       string   `json:"n"`
		ResNS      string   `json:"rns"`
		UID        string   `json:"uid"`
	}{req.GetNamespace(), states, severities, r.GetKind(), r.GetName(), r.GetNamespace(), r.GetUid()})
	sum := sha256.Sum256(canonical)
	return sum[:]
}

func pageTokenTag(key, digest, position []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("chatcli correlator page token v1\x00"))
	mac.Write(digest)
	mac.Write(position)
	return mac.Sum(nil)[:pageTokenTagSize]
}

func encodePageToken(key, digest []byte, p pagePosition) string {
	var b []byte
	b = append(b, pageTokenVersion)
	b = binary.AppendVarint(b, p.CreatedUnix)
	b = binary.AppendUvarint(b, uint64(len(p.Namespace)))
	b = append(b, p.Namespace...)
	b = binary.AppendUvarint(b, uint64(len(p.Name)))
	b = append(b, p.Name...)
	b = append(b, pageTokenTag(key, digest, b)...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodePageToken returns the position a token holds, or errBadPageToken
// when it was not issued with key for the filters of digest.
func decodePageToken(key, digest []byte, token string) (pagePosition, error) {
	if len(token) > maxPageTokenLength {
		return pagePosition{}, errBadPageToken
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 1+pageTokenTagSize {
		return pagePosition{}, errBadPageToken
	}
	body, tag := raw[:len(raw)-pageTokenTagSize], raw[len(raw)-pageTokenTagSize:]
	// The tag is checked before anything in the body is trusted.
	if !hmac.Equal(tag, pageTokenTag(key, digest, body)) {
		return pagePosition{}, errBadPageToken
	}
	r := bytes.NewReader(body)
	if v, err := r.ReadByte(); err != nil || v != pageTokenVersion {
		return pagePosition{}, errBadPageToken
	}
	var p pagePosition
	if p.CreatedUnix, err = binary.ReadVarint(r); err != nil {
		return pagePosition{}, errBadPageToken
	}
	if p.Namespace, err = readString(r); err != nil {
		return pagePosition{}, errBadPageToken
	}
	if p.Name, err = readString(r); err != nil {
		return pagePosition{}, errBadPageToken
	}
	if r.Len() != 0 || p.Name == "" {
		return pagePosition{}, errBadPageToken
	}
	return p, nil
}

func readString(r *bytes.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil || n > uint64(r.Len()) {
		return "", errBadPageToken
	}
	b := make([]byte, n)
	if _, err := r.Read(b); err != nil && n > 0 {
		return "", errBadPageToken
	}
	return string(b), nil
}
