<?php
/**
 * A thin event: what changed and when, never the object and never personal data. The
 * receiving side reads the resource itself through the webservice.
 *
 *   {"type": "order.created", "timestamp": "2026-11-24T10:00:00+00:00",
 *    "data": {"resource": "orders", "id": 42, "date_upd": "2026-11-24 11:00:00", "shop_id": 1}}
 */
if (!defined('_PS_VERSION_')) {
    exit;
}

class ShopSyncEvent
{
    /** Extra keys an event may carry: ids, references and quantities only. */
    const ALLOWED_EXTRA = array(
        'reference', 'id_customer', 'id_order_state', 'id_product', 'id_product_attribute',
        'quantity', 'id_shop',
    );

    public static function build($type, $resource, $id, $dateUpd, $shopId, array $extra = array())
    {
        $data = array(
            'resource' => (string) $resource,
            'id' => (int) $id,
            'date_upd' => (string) $dateUpd,
            'shop_id' => (int) $shopId,
            'ps_version' => defined('_PS_VERSION_') ? _PS_VERSION_ : '',
        );
        foreach ($extra as $key => $value) {
            if (in_array($key, self::ALLOWED_EXTRA, true)) {
                $data[$key] = is_int($value) ? $value : (string) $value;
            }
        }

        return json_encode(
            array('type' => (string) $type, 'timestamp' => gmdate('c'), 'data' => $data),
            JSON_UNESCAPED_SLASHES
        );
    }
}
