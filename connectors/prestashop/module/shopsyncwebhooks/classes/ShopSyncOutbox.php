<?php
/**
 * The outbox: hooks only INSERT here (one fast local write), delivery happens after the
 * response or from the cron URL, with a short timeout and retries with backoff, so a slow
 * or absent receiver never slows or breaks checkout.
 */
if (!defined('_PS_VERSION_')) {
    exit;
}

class ShopSyncOutbox
{
    const TABLE = 'shopsync_outbox';
    /** Seconds for connecting to and hearing from the receiver, per try. */
    const CONNECT_TIMEOUT = 2;
    const TIMEOUT = 3;
    /** Tries before an event is kept as dead (about a day with the backoff below). */
    const MAX_ATTEMPTS = 15;
    const BACKOFF_BASE = 30;
    const BACKOFF_CAP = 3600;
    /** A claim older than this was left by a process that died mid-delivery. */
    const CLAIM_SECONDS = 60;
    /** Delivered rows are purged after this many days. */
    const KEEP_DAYS = 7;

    public static function table()
    {
        return _DB_PREFIX_ . self::TABLE;
    }

    public static function createTable()
    {
        return Db::getInstance()->execute(
            'CREATE TABLE IF NOT EXISTS `' . self::table() . '` (
                `id_shopsync_outbox` INT UNSIGNED NOT NULL AUTO_INCREMENT,
                `event_id` VARCHAR(64) NOT NULL,
                `event_type` VARCHAR(64) NOT NULL,
                `payload` TEXT NOT NULL,
                `status` VARCHAR(16) NOT NULL DEFAULT \'pending\',
                `attempts` INT UNSIGNED NOT NULL DEFAULT 0,
                `next_attempt_at` DATETIME NOT NULL,
                `locked_until` DATETIME NULL,
                `last_error` VARCHAR(255) NULL,
                `date_add` DATETIME NOT NULL,
                PRIMARY KEY (`id_shopsync_outbox`),
                UNIQUE KEY `event_id` (`event_id`),
                KEY `due` (`status`, `next_attempt_at`)
            ) ENGINE=' . _MYSQL_ENGINE_ . ' DEFAULT CHARSET=utf8mb4'
        );
    }

    public static function dropTable()
    {
        return Db::getInstance()->execute('DROP TABLE IF EXISTS `' . self::table() . '`');
    }

    public static function add($eventId, $eventType, $payload)
    {
        $now = date('Y-m-d H:i:s');

        return Db::getInstance()->insert(self::TABLE, array(
            'event_id' => pSQL($eventId),
            'event_type' => pSQL($eventType),
            'payload' => pSQL($payload, true),
            'status' => 'pending',
            'attempts' => 0,
            'next_attempt_at' => $now,
            'date_add' => $now,
        ));
    }

    /**
     * Deliver up to $limit due events; returns array(delivered, failed).
     */
    public static function deliverDue($url, $secret, $limit = 20)
    {
        $db = Db::getInstance();
        $now = date('Y-m-d H:i:s');
        $rows = $db->executeS(
            'SELECT * FROM `' . self::table() . '`
             WHERE (`status` = \'pending\' AND `next_attempt_at` <= \'' . pSQL($now) . '\')
                OR (`status` = \'sending\' AND `locked_until` < \'' . pSQL($now) . '\')
             ORDER BY `id_shopsync_outbox` LIMIT ' . (int) $limit
        );
        $delivered = 0;
        $failed = 0;
        foreach ((array) $rows as $row) {
            if (!self::claim($row)) {
                continue;  // another request took it
            }
            $error = self::send($url, $secret, $row['event_id'], $row['payload']);
            if ($error === null) {
                $db->update(self::TABLE, array('status' => 'delivered', 'locked_until' => null, 'last_error' => null), '`id_shopsync_outbox` = ' . (int) $row['id_shopsync_outbox'], 0, true);
                ++$delivered;
                continue;
            }
            $attempts = (int) $row['attempts'] + 1;
            $delay = min(self::BACKOFF_CAP, self::BACKOFF_BASE * pow(2, $attempts - 1));
            $db->update(self::TABLE, array(
                'status' => $attempts >= self::MAX_ATTEMPTS ? 'dead' : 'pending',
                'attempts' => $attempts,
                'next_attempt_at' => date('Y-m-d H:i:s', time() + (int) $delay),
                'locked_until' => null,
                'last_error' => pSQL(substr($error, 0, 255)),
            ), '`id_shopsync_outbox` = ' . (int) $row['id_shopsync_outbox'], 0, true);
            ++$failed;
        }
        $db->execute(
            'DELETE FROM `' . self::table() . '` WHERE `status` = \'delivered\'
             AND `date_add` < \'' . pSQL(date('Y-m-d H:i:s', time() - self::KEEP_DAYS * 86400)) . '\''
        );

        return array($delivered, $failed);
    }

    private static function claim(array $row)
    {
        $db = Db::getInstance();
        $db->execute(
            'UPDATE `' . self::table() . '` SET `status` = \'sending\',
             `locked_until` = \'' . pSQL(date('Y-m-d H:i:s', time() + self::CLAIM_SECONDS)) . '\'
             WHERE `id_shopsync_outbox` = ' . (int) $row['id_shopsync_outbox'] . '
             AND `status` = \'' . pSQL($row['status']) . '\''
        );

        return $db->Affected_Rows() === 1;
    }

    /**
     * One signed POST; null on a 2xx, else the reason. The timestamp is this try's, so a
     * retry hours later is still inside the receiver's window; the id never changes.
     */
    private static function send($url, $secret, $eventId, $body)
    {
        try {
            $headers = ShopSyncSigner::headers($secret, $eventId, time(), $body);
        } catch (Exception $e) {
            return $e->getMessage();
        }
        $curl = curl_init($url);
        curl_setopt_array($curl, array(
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_CONNECTTIMEOUT => self::CONNECT_TIMEOUT,
            CURLOPT_TIMEOUT => self::TIMEOUT,
            CURLOPT_FOLLOWLOCATION => false,
        ));
        curl_exec($curl);
        $code = (int) curl_getinfo($curl, CURLINFO_HTTP_CODE);
        $curlError = curl_error($curl);
        curl_close($curl);
        if ($code >= 200 && $code < 300) {
            return null;
        }

        return $code ? 'HTTP ' . $code : 'network: ' . $curlError;
    }
}
