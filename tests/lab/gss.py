#!/usr/bin/python3
"""MIT GSS-API helper for the kerbgate lab (python3-gssapi, run with /usr/bin/python3).

  gss.py init SERVICE@HOST [spnego|krb5]   print a base64 initiator token (uses KRB5CCNAME)
  gss.py accept PRINCIPAL|-                 read a base64 token on stdin and accept it as
                                            PRINCIPAL from KRB5_KTNAME; print the client name

`accept PRINCIPAL` asks for an acceptor credential for exactly PRINCIPAL, so MIT only uses
keytab entries under that name: the check proves the keytab holds the SPN, not just some key.
`accept -` uses the default acceptor (any entry of the keytab may decrypt the ticket).
MIT is the second, independent Kerberos implementation in the lab (Heimdal is the other).
"""
import base64
import sys

import gssapi

KRB5 = gssapi.MechType.kerberos
SPNEGO = gssapi.Mechanism.from_sasl_name("SPNEGO")


def init(service, mech_name="spnego"):
    mech = SPNEGO if mech_name == "spnego" else KRB5
    name = gssapi.Name(service, gssapi.NameType.hostbased_service)
    ctx = gssapi.SecurityContext(name=name, mech=mech, usage="initiate")
    token = ctx.step()
    print(base64.b64encode(token).decode())


def accept(principal):
    token = base64.b64decode(sys.stdin.read().strip())
    name = None
    if principal != "-":
        name = gssapi.Name(principal, gssapi.NameType.kerberos_principal)
    cred = gssapi.Credentials(name=name, usage="accept")
    ctx = gssapi.SecurityContext(creds=cred, usage="accept")
    ctx.step(token)
    if not ctx.complete:
        sys.stderr.write("gss.py: context not established after one token\n")
        return 1
    print("client: %s" % ctx.initiator_name)
    print("acceptor: %s" % (principal if name else ctx.target_name))
    return 0


def main(argv):
    if len(argv) >= 2 and argv[0] == "init":
        init(*argv[1:3])
    elif len(argv) == 2 and argv[0] == "accept":
        return accept(argv[1])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except gssapi.exceptions.GSSError as err:
        sys.stderr.write("gss.py: %s\n" % err)
        sys.exit(1)
