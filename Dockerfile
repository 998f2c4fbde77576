# bot-bottle/packhelper: the static binary and nothing else, FROM scratch.
# Build with `make image` (it stages build/image/ from build/packhelper,
# static/ and the host's CA bundle; there is no registry to pull a builder from).
FROM scratch

ARG VERSION=dev
LABEL org.opencontainers.image.title="packhelper" \
      org.opencontainers.image.description="OCI registry, pusher and readiness probe in one static binary" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="MIT"

COPY build/image/ /

# Any uid may use the default store (docker run --user ...), hence 1777 on it.
ENV PACKHELPER_ROOT=/var/lib/packhelper \
    PACKHELPER_LISTEN=0.0.0.0:5000 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /var/lib/packhelper
EXPOSE 5000

# Docker's default interval (30 s) would hold every service_healthy dependant.
HEALTHCHECK --interval=2s --timeout=2s --start-period=60s --retries=3 \
    CMD ["/packhelper", "probe", "--quiet"]

ENTRYPOINT ["/packhelper"]
CMD ["serve"]
