import factory
from cryptography.fernet import Fernet

from connectors.models import Connection, System
from integrations.models import Integration, SyncRecord


class ConnectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connection

    system = System.PRESTASHOP
    name = factory.Sequence(lambda n: f"connection-{n}")
    base_url = "http://127.0.0.1:9/api"
    credentials = factory.LazyFunction(lambda: {"api_key": Fernet.generate_key().decode()[:32]})


class IntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Integration

    slug = factory.Sequence(lambda n: f"integration-{n}")
    name = factory.Sequence(lambda n: f"Integration {n}")
    shop_connection = factory.SubFactory(ConnectionFactory, system=System.PRESTASHOP)
    erp_connection = factory.SubFactory(ConnectionFactory, system=System.INFOR_M3)
    enabled_flows = factory.LazyFunction(lambda: ["test_noop"])
    retry_limit = 3


class SyncRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRecord

    integration = factory.SubFactory(IntegrationFactory)
    flow = "test_noop"
    direction = "shop_to_erp"
    source_system = "prestashop"
    source_id = factory.Sequence(lambda n: str(1000 + n))
    reference = factory.Sequence(lambda n: f"PSREF{n:05d}")
    idempotency_key = factory.LazyAttribute(lambda o: f"prestashop:{o.source_id}")
    payload_in = factory.LazyFunction(dict)
