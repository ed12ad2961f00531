#!/bin/sh
# make-tokens.sh DIR — make a SoftHSM2 test token for Signet.
#
# Creates DIR/softhsm2.conf and DIR/tokens/, initialises a token labelled
# $SIGNET_SOFTHSM_LABEL (default signet-test) with SO PIN
# $SIGNET_SOFTHSM_SO_PIN (default 12345678) and user PIN $SIGNET_SOFTHSM_PIN
# (default 1234), and generates these key pairs in it, each with CKA_LABEL
# set to the name and a CKA_ID:
#
#   rsa2048  RSA 2048 bits     rsa3072  RSA 3072 bits
#   p256     ECDSA P-256       p384     ECDSA P-384
#
# Running it again is harmless: an existing token or key is left as it is, so
# one DIR can hold several tokens (run it once per label). The last line of
# the output is the environment line to export, SOFTHSM2_CONF=DIR/softhsm2.conf;
# everything else goes to stderr. The PINs are test values: never use them
# for a real token.
#
# SOFTHSM2_MODULE overrides the path of libsofthsm2.so.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 DIR" >&2
	exit 2
fi
for tool in softhsm2-util pkcs11-tool; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "$0: $tool is not installed: install the softhsm2 and opensc packages" >&2
		exit 3
	fi
done

module=${SOFTHSM2_MODULE:-}
if [ -z "$module" ]; then
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
		/usr/lib64/pkcs11/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so \
		/opt/homebrew/lib/softhsm/libsofthsm2.so; do
		if [ -f "$m" ]; then module=$m; break; fi
	done
fi
if [ -z "$module" ] || [ ! -f "$module" ]; then
	echo "$0: libsofthsm2.so not found: install softhsm2 or set SOFTHSM2_MODULE" >&2
	exit 3
fi

label=${SIGNET_SOFTHSM_LABEL:-signet-test}
so_pin=${SIGNET_SOFTHSM_SO_PIN:-12345678}
pin=${SIGNET_SOFTHSM_PIN:-1234}

mkdir -p "$1/tokens"
dir=$(cd "$1" && pwd)
conf=$dir/softhsm2.conf
if [ ! -f "$conf" ]; then
	cat >"$conf" <<CONF
# SoftHSM2 configuration for Signet tests, made by testdata/softhsm/make-tokens.sh.
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
slots.mechanisms = ALL
library.reset_on_fork = false
CONF
fi
SOFTHSM2_CONF=$conf
export SOFTHSM2_CONF

if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label:[[:space:]]*$label[[:space:]]*\$"; then
	softhsm2-util --init-token --free --label "$label" --so-pin "$so_pin" --pin "$pin" >&2
fi

# keygen NAME ID TYPE makes the key pair NAME unless the token has it.
keygen() {
	if pkcs11-tool --module "$module" --token-label "$label" --login --pin "$pin" \
		--list-objects --type privkey --label "$1" 2>/dev/null | grep -q "label:[[:space:]]*$1\$"; then
		return
	fi
	pkcs11-tool --module "$module" --token-label "$label" --login --pin "$pin" \
		--keypairgen --key-type "$3" --label "$1" --id "$2" --usage-sign >/dev/null
	echo "$0: made key $1 ($3) in token $label" >&2
}
keygen rsa2048 01 rsa:2048
keygen rsa3072 02 rsa:3072
keygen p256 03 EC:secp256r1
keygen p384 04 EC:secp384r1

echo "SOFTHSM2_CONF=$conf"
