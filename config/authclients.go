package config

import (
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"

	"github.com/signet-project/signet/formats/dn"
)

// AuthorizedClient is one of a CLIENTCERT worker's client authorization
// rules, as SignServer's `authorizedclients` command and Admin Web write
// them: a field of the client certificate's subject and the issuer DN.
// A client is authorized when its certificate (verified against the
// server's client CA bundle) matches any one rule of the worker.
type AuthorizedClient struct {
	// SubjectType is the field matched (-matchSubjectWithType), such as
	// CERTIFICATE_SERIALNO or SUBJECT_RDN_CN.
	SubjectType string
	// SubjectValue is its value (-matchSubjectWithValue): the serial number
	// in hex for CERTIFICATE_SERIALNO, the text of the RDN otherwise.
	SubjectValue string
	// IssuerType is ISSUER_DN_BCSTYLE (default) or ISSUER_DN_LDAPSTYLE.
	IssuerType string
	// IssuerValue is the issuer's DN (-matchIssuerWithValue).
	IssuerValue string
	Description string
	Pos         Pos
}

// FieldAuthorizedClients is the field of a worker, and of a user of the
// users section, that lists its client certificate rules; the rules' own
// fields are AuthorizedClientFields.
const FieldAuthorizedClients = "authorizedClients"

// The fields of one authorized client rule, as SignServer's
// `authorizedclients` command names its options.
const (
	fieldSubjectType  = "matchSubjectWithType"
	fieldSubjectValue = "matchSubjectWithValue"
	fieldIssuerType   = "matchIssuerWithType"
	fieldIssuerValue  = "matchIssuerWithValue"
	fieldDescription  = "description"
)

// AuthorizedClientFields are the fields of one rule, as SignServer's
// `authorizedclients` command names its options.
func AuthorizedClientFields() []string {
	return []string{fieldSubjectType, fieldSubjectValue, fieldIssuerType, fieldIssuerValue, fieldDescription}
}

// Client certificate match types, as SignServer names them.
const (
	MatchSerialNo   = "CERTIFICATE_SERIALNO"
	MatchIssuerBC   = "ISSUER_DN_BCSTYLE"
	MatchIssuerLDAP = "ISSUER_DN_LDAPSTYLE"
	MatchRFC822     = "SUBJECT_ALTNAME_RFC822NAME"
)

// SubjectMatchTypes returns the -matchSubjectWithType values and, for
// the RDN ones, the attribute they name (as formats/dn spells it).
func SubjectMatchTypes() map[string]string {
	return map[string]string{
		MatchSerialNo:          "",
		MatchRFC822:            "",
		"SUBJECT_RDN_CN":       "CN",
		"SUBJECT_RDN_SERIALNO": "SERIALNUMBER",
		"SUBJECT_RDN_C":        "C",
		"SUBJECT_RDN_DC":       "DC",
		"SUBJECT_RDN_ST":       "ST",
		"SUBJECT_RDN_L":        "L",
		"SUBJECT_RDN_O":        "O",
		"SUBJECT_RDN_OU":       "OU",
		"SUBJECT_RDN_TITLE":    "TITLE",
		"SUBJECT_RDN_UID":      "UID",
		"SUBJECT_RDN_E":        "E",
	}
}

// check returns what is wrong with the rule, or "".
func (a *AuthorizedClient) check() string {
	a.SubjectType = strings.ToUpper(strings.TrimSpace(a.SubjectType))
	a.IssuerType = strings.ToUpper(strings.TrimSpace(a.IssuerType))
	if a.IssuerType == "" {
		a.IssuerType = MatchIssuerBC
	}
	types := SubjectMatchTypes()
	if _, ok := types[a.SubjectType]; !ok {
		return fmt.Sprintf("%s %q is not one of SignServer's: %s", fieldSubjectType, a.SubjectType, hint(a.SubjectType, slices.Sorted(maps.Keys(types))))
	}
	if strings.TrimSpace(a.SubjectValue) == "" {
		return "Set " + fieldSubjectValue + ": the value the certificate's " + a.SubjectType + " must have."
	}
	if a.SubjectType == MatchSerialNo {
		if _, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(strings.ReplaceAll(a.SubjectValue, ":", "")), "0x"), 16); !ok {
			return fmt.Sprintf("%s %q is not a serial number in hex.", fieldSubjectValue, a.SubjectValue)
		}
	}
	if a.IssuerType != MatchIssuerBC && a.IssuerType != MatchIssuerLDAP {
		return fmt.Sprintf("%s %q is %s or %s.", fieldIssuerType, a.IssuerType, MatchIssuerBC, MatchIssuerLDAP)
	}
	if strings.TrimSpace(a.IssuerValue) == "" {
		return "Set " + fieldIssuerValue + ": the DN of the CA that issued the client certificate."
	}
	if _, err := dn.Parse(a.IssuerValue); err != nil {
		return fmt.Sprintf("%s %q: %v", fieldIssuerValue, a.IssuerValue, err)
	}
	return ""
}
