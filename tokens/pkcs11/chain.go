package pkcs11

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/ThalesGroup/crypto11"
)

// chainLabel is the CKA_LABEL of the i-th certificate (from 1) after the
// signer certificate in the chain of alias.
func chainLabel(alias string, i int) []byte {
	return []byte(alias + "-chain-" + strconv.Itoa(i))
}

// Chain returns the certificates stored for the key labelled alias, signer
// first: the certificate labelled alias, then those labelled
// alias+"-chain-1", alias+"-chain-2", … A key without a certificate returns
// an empty chain.
//
// A chain found is kept for as long as the token stays open (a search for
// certificates costs more than a signature on some modules, SoftHSM2 among
// them); ImportChain and RemoveKey through the token refresh it. A chain
// changed by another tool is seen once the token is re-opened (deactivate
// and activate it).
func (t *Token) Chain(ctx context.Context, alias string) ([]*x509.Certificate, error) {
	c, err := t.acquire(ctx)
	if err != nil {
		return nil, err
	}
	chain, err := c.chain(alias)
	var k crypto11.Signer
	if err == nil && len(chain) == 0 {
		k, err = c.key(alias)
	}
	c.release()
	if err != nil {
		return nil, t.failure(c, alias, fmt.Errorf("read the chain of key %q: %w", alias, err))
	}
	// A token whose objects vanished (SoftHSM2 whose files were removed)
	// finds no certificate without an error: ask the module whether the
	// token is still there before reporting that the key has none.
	if len(chain) == 0 && !t.check(c) {
		return nil, t.offlineErr()
	}
	if len(chain) == 0 && k == nil {
		return nil, t.notFound(c, alias)
	}
	return chain, nil
}

func (c *conn) chain(alias string) ([]*x509.Certificate, error) {
	c.keyMu.Lock()
	cached, ok := c.chains[alias]
	c.keyMu.Unlock()
	if ok {
		return slices.Clone(cached), nil
	}
	chain, err := c.readChain(alias)
	if err != nil || len(chain) == 0 {
		return chain, err
	}
	c.keyMu.Lock()
	c.chains[alias] = chain
	c.keyMu.Unlock()
	return slices.Clone(chain), nil
}

func (c *conn) readChain(alias string) ([]*x509.Certificate, error) {
	cert, err := c.c.FindCertificate(nil, []byte(alias), nil)
	if err != nil || cert == nil {
		return nil, err
	}
	chain := []*x509.Certificate{cert}
	for i := 1; ; i++ {
		cert, err := c.c.FindCertificate(nil, chainLabel(alias, i), nil)
		if err != nil {
			return nil, err
		}
		if cert == nil {
			return chain, nil
		}
		chain = append(chain, cert)
	}
}

// ImportChain stores chain (signer first) for the key labelled alias,
// replacing the certificates stored before. The signer certificate gets the
// key's label and CKA_ID, the others the labels alias+"-chain-N". A signer
// certificate whose public key is not the key's is refused. Replacing is not
// atomic: if the token fails half-way, import the chain again.
func (t *Token) ImportChain(ctx context.Context, alias string, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return fmt.Errorf("pkcs11 token %s: the chain for key %q is empty: give at least the signer certificate", t.name, alias)
	}
	for _, cert := range chain {
		if cert == nil {
			return fmt.Errorf("pkcs11 token %s: the chain for key %q has an empty entry", t.name, alias)
		}
	}
	c, err := t.acquire(ctx)
	if err != nil {
		return err
	}
	k, err := c.key(alias)
	if err == nil && k == nil {
		c.release()
		return t.notFound(c, alias)
	}
	if err == nil {
		pub, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
		if !ok || !pub.Equal(chain[0].PublicKey) {
			c.release()
			return fmt.Errorf("pkcs11 token %s: the certificate %q is not for key %q (another public key): import the certificate issued for this key",
				t.name, chain[0].Subject.CommonName, alias)
		}
		err = c.importChain(k, alias, chain)
	}
	c.release()
	if err != nil {
		return t.failure(c, alias, fmt.Errorf("import the chain of key %q: %w", alias, err))
	}
	return nil
}

func (c *conn) importChain(k crypto11.Signer, alias string, chain []*x509.Certificate) error {
	c.forgetChain(alias)
	defer c.forgetChain(alias)
	id, err := c.c.GetAttribute(k, crypto11.CkaId)
	if err != nil {
		return err
	}
	if id == nil || len(id.Value) == 0 {
		return errors.New("the key has no CKA_ID")
	}
	if err := c.deleteChain(alias); err != nil {
		return err
	}
	if err := c.c.ImportCertificateWithLabel(id.Value, []byte(alias), chain[0]); err != nil {
		return err
	}
	for i, cert := range chain[1:] {
		label := chainLabel(alias, i+1)
		// The CKA_ID is the label: the key's CKA_ID stays the signer's.
		if err := c.c.ImportCertificateWithLabel(label, label, cert); err != nil {
			return err
		}
	}
	return nil
}

// forgetChain drops the cached chain of alias.
func (c *conn) forgetChain(alias string) {
	c.keyMu.Lock()
	delete(c.chains, alias)
	c.keyMu.Unlock()
}

// deleteChain deletes the certificates stored for alias.
func (c *conn) deleteChain(alias string) error {
	if err := c.deleteAll([]byte(alias)); err != nil {
		return err
	}
	for i := 1; ; i++ {
		cert, err := c.c.FindCertificate(nil, chainLabel(alias, i), nil)
		if err != nil {
			return err
		}
		if cert == nil {
			return nil
		}
		if err := c.deleteAll(chainLabel(alias, i)); err != nil {
			return err
		}
	}
}

// deleteAll deletes every certificate labelled label (crypto11's
// DeleteCertificate deletes one).
func (c *conn) deleteAll(label []byte) error {
	for {
		cert, err := c.c.FindCertificate(nil, label, nil)
		if err != nil || cert == nil {
			return err
		}
		if err := c.c.DeleteCertificate(nil, label, nil); err != nil {
			return err
		}
	}
}
