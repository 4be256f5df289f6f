<?php
/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): HMAC-SHA256 over
 * "<webhook-id>.<webhook-timestamp>.<body>" with the base64-decoded whsec_ secret,
 * sent as "v1,<base64 signature>". Pure PHP, no PrestaShop class, so tests can run it
 * with `php -r`.
 */
if (!defined('_PS_VERSION_')) {
    exit;
}

class ShopSyncSigner
{
    const PREFIX = 'whsec_';

    /**
     * The secret's key bytes; throws on a secret that is not whsec_ + base64.
     */
    public static function keyBytes($secret)
    {
        $secret = trim((string) $secret);
        if (strpos($secret, self::PREFIX) === 0) {
            $secret = substr($secret, strlen(self::PREFIX));
        }
        $secret .= str_repeat('=', (4 - strlen($secret) % 4) % 4);
        $key = base64_decode($secret, true);
        if ($key === false || $key === '') {
            throw new InvalidArgumentException('the webhook secret must be whsec_ followed by base64');
        }

        return $key;
    }

    public static function sign($secret, $messageId, $timestamp, $body)
    {
        $payload = $messageId . '.' . (int) $timestamp . '.' . $body;

        return 'v1,' . base64_encode(hash_hmac('sha256', $payload, self::keyBytes($secret), true));
    }

    /**
     * HTTP header lines for one delivery; the timestamp is the time of this try.
     */
    public static function headers($secret, $messageId, $timestamp, $body)
    {
        return array(
            'Content-Type: application/json',
            'webhook-id: ' . $messageId,
            'webhook-timestamp: ' . (int) $timestamp,
            'webhook-signature: ' . self::sign($secret, $messageId, $timestamp, $body),
        );
    }

    public static function newMessageId()
    {
        return 'msg_' . bin2hex(random_bytes(16));
    }
}
