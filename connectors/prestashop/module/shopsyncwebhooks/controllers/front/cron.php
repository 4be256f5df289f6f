<?php
/**
 * The cron URL: delivers due outbox events. Call it every minute from the host's cron
 * (the configuration page shows the URL with its token), e.g.
 *   * * * * * curl -fsS "https://shop.example.com/module/shopsyncwebhooks/cron?token=..."
 */
if (!defined('_PS_VERSION_')) {
    exit;
}

class ShopSyncWebhooksCronModuleFrontController extends ModuleFrontController
{
    public $ajax = true;

    public function initContent()
    {
        $expected = (string) Configuration::get(ShopSyncWebhooks::CONFIG_CRON_TOKEN);
        $given = (string) Tools::getValue('token');
        header('Content-Type: application/json');
        if ($expected === '' || !hash_equals($expected, $given)) {
            http_response_code(403);
            die(json_encode(array('error' => 'bad token')));
        }
        $result = $this->module->deliverNow(100);
        die(json_encode(array('delivered' => $result[0], 'failed' => $result[1])));
    }
}
