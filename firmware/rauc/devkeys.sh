#!/bin/sh
# devkeys.sh DIR: a development firmware CA and a signing certificate in DIR
# (made once, kept: every bundle of this tree is signed by the same CA).
# For development only; docs/updates.md says how a vendor signs with a
# production key kept elsewhere (an HSM through PKCS#11).
set -eu
dir=$1
[ -s "$dir/signer.pem" ] && [ -s "$dir/signer.key" ] && [ -s "$dir/ca.pem" ] && exit 0
mkdir -p "$dir"
umask 077
cnf=$dir/openssl.cnf
cat >"$cnf" <<'CNF'
[req]
distinguished_name = dn
[dn]
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[signer]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
	-subj "/O=kerbgate development/CN=kerbgate development firmware CA" \
	-keyout "$dir/ca.key" -out "$dir/ca.pem" -config "$cnf" -extensions ca 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-subj "/O=kerbgate development/CN=kerbgate development firmware signer" \
	-keyout "$dir/signer.key" -out "$dir/signer.csr" -config "$cnf" 2>/dev/null
openssl x509 -req -in "$dir/signer.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
	-CAcreateserial -days 3650 -extfile "$cnf" -extensions signer \
	-out "$dir/signer.pem" 2>/dev/null
rm -f "$dir/signer.csr" "$dir/ca.srl"
chmod 0644 "$dir/ca.pem" "$dir/signer.pem"
echo "  KEYS    $dir (development firmware CA and signer)"
