/*
 * mbedtls_config.h: the mbedTLS 3.6 configuration kerbgate builds with.
 *
 * What the appliance needs and no more: TLS 1.2 and 1.3, server (the VIP,
 * the management port) and client (TLS back-ends, the load generator);
 * ECDHE with X25519 and P-256/P-384; ECDSA and RSA certificates; AES-GCM
 * with AES-NI; session tickets; asynchronous private-key callbacks so a key
 * process can hold the VIP keys.  No DTLS, no CBC suites, no static RSA key
 * exchange, no renegotiation, no SSLv3-era anything.
 *
 * Options a board may change come from Kconfig (toolchain/mbedtls/Kconfig)
 * through MBEDTLS_USER_CONFIG_FILE, which the build generates from .config
 * and mbedTLS reads after this file.  Everything that includes an mbedTLS
 * header is compiled with both (MBEDTLS_CPPFLAGS): structure layouts depend
 * on them.
 */
#ifndef KG_MBEDTLS_CONFIG_H
#define KG_MBEDTLS_CONFIG_H

/* ---- platform */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_FS_IO                   /* certificate and key files */
#define MBEDTLS_NET_C                   /* tests and tools only */
#define MBEDTLS_ERROR_C                 /* mbedtls_strerror in log lines */
#define MBEDTLS_VERSION_C

/* ---- symmetric crypto */
#define MBEDTLS_AES_C
#define MBEDTLS_AESNI_C                 /* AES-NI and PCLMULQDQ for GCM */
#define MBEDTLS_GCM_C
#define MBEDTLS_CIPHER_C
#define MBEDTLS_CIPHER_MODE_CBC         /* Kerberos AES-CTS (kcrypto.c) */
#define MBEDTLS_MD_C
#define MBEDTLS_MD5_C                   /* Kerberos RC4-HMAC PAC checksums */
#define MBEDTLS_SHA1_C                  /* Kerberos AES (HMAC-SHA1-96) */
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_HKDF_C
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

/* ---- public key */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_GENPRIME                /* RSA test keys */
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21               /* RSA-PSS: TLS 1.3 with RSA certificates */
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_HMAC_DRBG_C             /* deterministic ECDSA */
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PEM_WRITE_C

/* ---- X.509 */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT
#define MBEDTLS_X509_CREATE_C           /* test certificates */
#define MBEDTLS_X509_CRT_WRITE_C

/* ---- PSA: TLS 1.3 does its key schedule and key exchange through it */
#define MBEDTLS_PSA_CRYPTO_C
/* Every TLS 1.3 handshake in flight holds a PSA key (its key share) until
 * the peer answers; a fixed store (32 slots) would fail the 33rd
 * concurrent handshake of a relay, or of a back-end pool opening
 * connections. */
#define MBEDTLS_PSA_KEY_STORE_DYNAMIC

/* ---- TLS */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED /* resumption */
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_ENCRYPT_THEN_MAC
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE /* kcd binds to a back-end's certificate */
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_TICKET_C
#define MBEDTLS_SSL_ASYNC_PRIVATE       /* VIP keys held by another process */
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH /* required by the next */
#define MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH /* idle connections keep small buffers */
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES

#endif /* KG_MBEDTLS_CONFIG_H */
