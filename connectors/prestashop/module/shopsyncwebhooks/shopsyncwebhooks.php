<?php
/**
 * ShopSync signed webhooks for PrestaShop 1.7, 8 and 9.
 *
 * Hooks write a thin event (type, resource, id, date_upd) to an outbox table in the shop's
 * database and nothing else. Events are delivered, signed per Standard Webhooks, after the
 * response has been sent (fastcgi_finish_request, from a shutdown function) or by the cron
 * URL, with a short timeout and retries, so checkout is never slowed or broken by delivery.
 */
if (!defined('_PS_VERSION_')) {
    exit;
}

require_once __DIR__ . '/classes/ShopSyncSigner.php';
require_once __DIR__ . '/classes/ShopSyncEvent.php';
require_once __DIR__ . '/classes/ShopSyncOutbox.php';

class ShopSyncWebhooks extends Module
{
    const CONFIG_URL = 'SHOPSYNC_WEBHOOK_URL';
    const CONFIG_SECRET = 'SHOPSYNC_WEBHOOK_SECRET';
    const CONFIG_CRON_TOKEN = 'SHOPSYNC_CRON_TOKEN';
    /** Events delivered after one shop response at most; the cron URL does the rest. */
    const DELIVER_AFTER_RESPONSE = 10;

    /** @var bool */
    private static $deliveryScheduled = false;

    public function __construct()
    {
        $this->name = 'shopsyncwebhooks';
        $this->tab = 'administration';
        $this->version = '1.0.0';
        $this->author = 'ShopSync';
        $this->need_instance = 0;
        $this->ps_versions_compliancy = array('min' => '1.7.0.0', 'max' => '9.99.99');
        $this->bootstrap = true;
        parent::__construct();
        $this->displayName = $this->l('ShopSync signed webhooks');
        $this->description = $this->l(
            'Notifies the ShopSync back office of new orders, customers, addresses, products and stock changes with signed, thin events.'
        );
        $this->confirmUninstall = $this->l('Undelivered events in the outbox will be lost. Uninstall?');
    }

    public static function hookNames()
    {
        return array(
            'actionValidateOrder',
            'actionOrderStatusPostUpdate',
            'actionObjectCustomerAddAfter',
            'actionObjectCustomerUpdateAfter',
            'actionObjectAddressAddAfter',
            'actionUpdateQuantity',
            'actionObjectProductAddAfter',
            'actionObjectProductUpdateAfter',
            'actionObjectCombinationAddAfter',
            'actionObjectCombinationUpdateAfter',
        );
    }

    public function install()
    {
        return parent::install()
            && ShopSyncOutbox::createTable()
            && Configuration::updateValue(self::CONFIG_CRON_TOKEN, bin2hex(random_bytes(16)))
            && $this->registerHook(self::hookNames());
    }

    public function uninstall()
    {
        return ShopSyncOutbox::dropTable()
            && Configuration::deleteByName(self::CONFIG_URL)
            && Configuration::deleteByName(self::CONFIG_SECRET)
            && Configuration::deleteByName(self::CONFIG_CRON_TOKEN)
            && parent::uninstall();
    }

    // ------------------------------------------------------------------ hooks

    public function hookActionValidateOrder($params)
    {
        if (isset($params['order']) && is_object($params['order'])) {
            $order = $params['order'];
            $this->emit('order.created', 'orders', $order->id, $order->date_upd, array(
                'reference' => $order->reference,
            ));
        }
    }

    public function hookActionOrderStatusPostUpdate($params)
    {
        $extra = array();
        if (isset($params['newOrderStatus']) && is_object($params['newOrderStatus'])) {
            $extra['id_order_state'] = (int) $params['newOrderStatus']->id;
        }
        if (!empty($params['id_order'])) {
            $this->emit('order.status_changed', 'orders', $params['id_order'], date('Y-m-d H:i:s'), $extra);
        }
    }

    public function hookActionObjectCustomerAddAfter($params)
    {
        $this->emitObject('customer.created', 'customers', $params);
    }

    public function hookActionObjectCustomerUpdateAfter($params)
    {
        $this->emitObject('customer.updated', 'customers', $params);
    }

    public function hookActionObjectAddressAddAfter($params)
    {
        if (isset($params['object']) && is_object($params['object'])) {
            $address = $params['object'];
            $this->emit('address.created', 'addresses', $address->id, $address->date_upd, array(
                'id_customer' => (int) $address->id_customer,
            ));
        }
    }

    public function hookActionUpdateQuantity($params)
    {
        if (!isset($params['id_product'])) {
            return;
        }
        $extra = array(
            'id_product' => (int) $params['id_product'],
            'id_product_attribute' => isset($params['id_product_attribute']) ? (int) $params['id_product_attribute'] : 0,
            'quantity' => isset($params['quantity']) ? (int) $params['quantity'] : 0,
        );
        if (isset($params['id_shop'])) {
            $extra['id_shop'] = (int) $params['id_shop'];
        }
        $this->emit('stock.updated', 'stock_availables', $params['id_product'], date('Y-m-d H:i:s'), $extra);
    }

    // Product and combination events carry the reference: the back office keys an item's
    // record by it (the ERP's item number), so it need not read the product back first.
    public function hookActionObjectProductAddAfter($params)
    {
        $this->emitItem('product.created', 'products', $params);
    }

    public function hookActionObjectProductUpdateAfter($params)
    {
        $this->emitItem('product.updated', 'products', $params);
    }

    public function hookActionObjectCombinationAddAfter($params)
    {
        $this->emitItem('combination.created', 'combinations', $params);
    }

    public function hookActionObjectCombinationUpdateAfter($params)
    {
        $this->emitItem('combination.updated', 'combinations', $params);
    }

    // ------------------------------------------------------------------ outbox

    private function emitItem($type, $resource, $params)
    {
        if (!isset($params['object']) || !is_object($params['object'])) {
            return;
        }
        $object = $params['object'];
        $extra = array();
        if (!empty($object->reference)) {
            $extra['reference'] = (string) $object->reference;
        }
        if (!empty($object->id_product)) {
            $extra['id_product'] = (int) $object->id_product; // a combination's product
        }
        // Combinations have no date_upd of their own.
        $dateUpd = !empty($object->date_upd) ? $object->date_upd : date('Y-m-d H:i:s');
        $this->emit($type, $resource, $object->id, $dateUpd, $extra);
    }

    private function emitObject($type, $resource, $params)
    {
        if (isset($params['object']) && is_object($params['object'])) {
            $object = $params['object'];
            $dateUpd = !empty($object->date_upd) ? $object->date_upd : date('Y-m-d H:i:s');
            $this->emit($type, $resource, $object->id, $dateUpd);
        }
    }

    /**
     * Write one event to the outbox. Never throws: a broken outbox must not break the shop.
     */
    private function emit($type, $resource, $id, $dateUpd, array $extra = array())
    {
        try {
            if (!Configuration::get(self::CONFIG_URL) || !Configuration::get(self::CONFIG_SECRET)) {
                return;
            }
            $body = ShopSyncEvent::build(
                $type, $resource, $id, $dateUpd, (int) $this->context->shop->id, $extra
            );
            ShopSyncOutbox::add(ShopSyncSigner::newMessageId(), $type, $body);
            $this->scheduleDelivery();
        } catch (Exception $e) {
            PrestaShopLogger::addLog('shopsyncwebhooks: ' . $e->getMessage(), 2);
        } catch (Throwable $e) {
            PrestaShopLogger::addLog('shopsyncwebhooks: ' . $e->getMessage(), 2);
        }
    }

    private function scheduleDelivery()
    {
        // Only where the response can be finished first (PHP-FPM, LiteSpeed); elsewhere
        // delivering here would hold the customer's page, so the cron URL delivers.
        if (self::$deliveryScheduled
            || !(function_exists('fastcgi_finish_request') || function_exists('litespeed_finish_request'))) {
            return;
        }
        self::$deliveryScheduled = true;
        register_shutdown_function(array($this, 'deliverAfterResponse'));
    }

    public function deliverAfterResponse()
    {
        ignore_user_abort(true);
        if (function_exists('fastcgi_finish_request')) {
            fastcgi_finish_request();
        } elseif (function_exists('litespeed_finish_request')) {
            litespeed_finish_request();
        }
        try {
            $this->deliverNow(self::DELIVER_AFTER_RESPONSE);
        } catch (Exception $e) {
            PrestaShopLogger::addLog('shopsyncwebhooks: delivery: ' . $e->getMessage(), 2);
        }
    }

    /**
     * @return array (delivered, failed)
     */
    public function deliverNow($limit)
    {
        $url = (string) Configuration::get(self::CONFIG_URL);
        $secret = (string) Configuration::get(self::CONFIG_SECRET);
        if ($url === '' || $secret === '') {
            return array(0, 0);
        }

        return ShopSyncOutbox::deliverDue($url, $secret, (int) $limit);
    }

    // ------------------------------------------------------------------ configuration page

    public function getContent()
    {
        $output = '';
        if (Tools::isSubmit('submitShopSyncWebhooks')) {
            $url = trim((string) Tools::getValue(self::CONFIG_URL));
            $secret = trim((string) Tools::getValue(self::CONFIG_SECRET));
            $errors = array();
            if (!Validate::isAbsoluteUrl($url) || stripos($url, 'http') !== 0) {
                $errors[] = $this->l('The endpoint URL must be an absolute http(s) URL, e.g. https://sync.example.com/webhooks/my-shop/prestashop/');
            }
            if ($secret !== '') {
                try {
                    ShopSyncSigner::keyBytes($secret);
                } catch (Exception $e) {
                    $errors[] = $this->l('The secret must be whsec_ followed by base64, as shown by the back office.');
                }
            }
            if ($errors) {
                $output .= $this->displayError(implode('<br>', $errors));
            } else {
                Configuration::updateValue(self::CONFIG_URL, $url);
                if ($secret !== '') {
                    Configuration::updateValue(self::CONFIG_SECRET, $secret);
                }
                $output .= $this->displayConfirmation($this->l('Settings saved.'));
            }
        }

        return $output . $this->renderForm();
    }

    private function renderForm()
    {
        $cronUrl = $this->context->link->getModuleLink(
            $this->name, 'cron', array('token' => Configuration::get(self::CONFIG_CRON_TOKEN))
        );
        $form = array('form' => array(
            'legend' => array('title' => $this->l('ShopSync endpoint'), 'icon' => 'icon-cogs'),
            'input' => array(
                array(
                    'type' => 'text',
                    'label' => $this->l('Endpoint URL'),
                    'name' => self::CONFIG_URL,
                    'required' => true,
                    'desc' => $this->l('The back office webhook URL for this shop.'),
                ),
                array(
                    'type' => 'password',
                    'label' => $this->l('Signing secret'),
                    'name' => self::CONFIG_SECRET,
                    'desc' => $this->l('whsec_… from the back office. Leave blank to keep the stored secret; it is never shown.'),
                ),
            ),
            'description' => sprintf(
                $this->l('Call this URL every minute from cron to deliver events: %s'),
                $cronUrl
            ),
            'submit' => array('title' => $this->l('Save')),
        ));
        $helper = new HelperForm();
        $helper->module = $this;
        $helper->name_controller = $this->name;
        $helper->token = Tools::getAdminTokenLite('AdminModules');
        $helper->currentIndex = AdminController::$currentIndex . '&configure=' . $this->name;
        $helper->submit_action = 'submitShopSyncWebhooks';
        $helper->default_form_language = (int) Configuration::get('PS_LANG_DEFAULT');
        $helper->fields_value = array(
            self::CONFIG_URL => Tools::getValue(self::CONFIG_URL, Configuration::get(self::CONFIG_URL)),
            self::CONFIG_SECRET => '',
        );

        return $helper->generateForm(array($form));
    }
}
