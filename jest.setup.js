// Quiet, deterministic test processes: no Powertools log lines or EMF blobs on stdout,
// and no SDK nag about the Node version (the machine runs Node 20).
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
