"""Service account tokens: signed JWTs as kube-apiserver issues and checks them.

Claims are those of k/k `pkg/serviceaccount/claims.go`: `iss`, `sub`
(`system:serviceaccount:<ns>:<name>`), `aud`, `exp`, `iat`, `nbf`, `jti` and a
private `kubernetes.io` claim naming the namespace, the service account (name,
uid) and the object the token is bound to. Tokens are signed RS256 (RSA keys)
or ES256 (P-256 keys) with the `--service-account-signing-key-file` key; the
`kid` header is the key id kube computes (`keyIDFromPublicKey`: base64url of the
SHA-256 of the DER public key). A token verifies with any key of
`--service-account-key-file`.

Checking a token here covers the signature, issuer, audience and time (with
go-jose's one-minute leeway); whether its service account (and bound object)
still exists with the same uid is the authenticator's part, against live
objects.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"
LEEWAY = 60.0  # jwt.DefaultLeeway
_PEM_BEGIN = b"-----BEGIN "

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class TokenError(Exception):
    """A token that does not verify (the reason is logged, never shown to the client)."""


@dataclass(frozen=True)
class BoundRef:
    kind: str  # Pod, Secret or Node
    name: str
    uid: str


@dataclass(frozen=True)
class Claims:
    namespace: str
    name: str
    uid: str
    audiences: tuple[str, ...]
    expires: int
    issued: int
    token_id: str
    bound: BoundRef | None = None

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(public: PublicKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


def _algorithm(key: PublicKey) -> str:
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ValueError(f"unsupported service account key curve {key.curve.name}")


def load_private_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: a service account signing key must be RSA or ECDSA")
    _algorithm(key.public_key())
    return key


def load_public_keys(path: Path) -> list[PublicKey]:
    """Every key in a PEM file: public keys, certificates, or private keys (their public half)."""
    from cryptography import x509

    data = path.read_bytes()
    keys: list[PublicKey] = []
    for block in data.split(_PEM_BEGIN)[1:]:
        pem = _PEM_BEGIN + block
        kind = block.split(b"-----", 1)[0]
        loaded: Any
        if b"PRIVATE KEY" in kind:
            loaded = serialization.load_pem_private_key(pem, password=None).public_key()
        elif b"CERTIFICATE" in kind:
            loaded = x509.load_pem_x509_certificate(pem).public_key()
        else:
            loaded = serialization.load_pem_public_key(pem)
        if isinstance(loaded, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            keys.append(loaded)
    if not keys:
        raise ValueError(f"{path}: no RSA or ECDSA key found")
    return keys


class TokenSigner:
    """Issues tokens (the TokenRequest API)."""

    def __init__(self, key: PrivateKey, *, issuer: str = DEFAULT_ISSUER) -> None:
        self.key = key
        self.issuer = issuer
        self.algorithm = _algorithm(key.public_key())
        self.kid = key_id(key.public_key())

    def sign(self, *, namespace: str, name: str, uid: str, audiences: list[str], expiration_seconds: int,
             bound: BoundRef | None = None, now: float | None = None) -> tuple[str, int]:
        """A token and its expiry (Unix seconds)."""
        issued = int(time.time() if now is None else now)
        expires = issued + expiration_seconds
        private: dict[str, Any] = {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}
        if bound is not None:
            private[bound.kind.lower()] = {"name": bound.name, "uid": bound.uid}
        claims = {"aud": audiences, "exp": expires, "iat": issued, "iss": self.issuer, "jti": str(uuid.uuid4()),
                  "kubernetes.io": private, "nbf": issued, "sub": f"system:serviceaccount:{namespace}:{name}"}
        header = {"alg": self.algorithm, "kid": self.kid}
        signing_input = f"{_b64(_json(header))}.{_b64(_json(claims))}".encode()
        return f"{signing_input.decode()}.{_b64(self._signature(signing_input))}", expires

    def _signature(self, data: bytes) -> bytes:
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        r, s = decode_dss_signature(self.key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class TokenVerifier:
    """Checks a token's signature, issuer, audience and lifetime."""

    def __init__(self, keys: list[PublicKey], *, issuer: str = DEFAULT_ISSUER,
                 audiences: tuple[str, ...] = ()) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audiences = audiences or (issuer,)

    def verify(self, token: str, *, now: float | None = None) -> Claims:
        try:
            head_b64, body_b64, sig_b64 = token.split(".")
            header = json.loads(_unb64(head_b64))
            claims = json.loads(_unb64(body_b64))
            signature = _unb64(sig_b64)
        except ValueError as err:
            raise TokenError(f"malformed token: {err}") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise TokenError("malformed token")
        if claims.get("iss") != self.issuer:
            raise TokenError("token issued by another issuer")
        data = f"{head_b64}.{body_b64}".encode()
        if not any(self._verifies(key, header.get("alg"), data, signature) for key in self.keys):
            raise TokenError("invalid signature")
        moment = time.time() if now is None else now
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, int) or moment > exp + LEEWAY:
            raise TokenError("token has expired")
        if isinstance(nbf, int) and moment < nbf - LEEWAY:
            raise TokenError("token not valid yet")
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
        if not set(audiences) & set(self.audiences):
            raise TokenError("token audiences do not include the API server's")
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            raise TokenError("not a bound service account token")
        sa = private.get("serviceaccount") or {}
        namespace, name, uid = private.get("namespace"), sa.get("name"), sa.get("uid")
        if not (namespace and name and uid) or claims.get("sub") != f"system:serviceaccount:{namespace}:{name}":
            raise TokenError("token does not name a service account")
        bound = None
        for kind in ("pod", "secret", "node"):
            ref = private.get(kind)
            if isinstance(ref, dict):
                bound = BoundRef(kind.capitalize(), str(ref.get("name", "")), str(ref.get("uid", "")))
                break
        return Claims(namespace=str(namespace), name=str(name), uid=str(uid), audiences=tuple(audiences),
                      expires=exp, issued=int(claims.get("iat") or 0), token_id=str(claims.get("jti") or ""),
                      bound=bound)

    @staticmethod
    def _verifies(key: PublicKey, alg: Any, data: bytes, signature: bytes) -> bool:
        try:
            if isinstance(key, rsa.RSAPublicKey):
                if alg != "RS256":
                    return False
                key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
                return True
            if alg != "ES256" or len(signature) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
            return True
        except InvalidSignature:
            return False
