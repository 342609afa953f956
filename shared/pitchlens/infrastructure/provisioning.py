"""Creates what the functions need on an S3/SQS endpoint: buckets, one queue per function with
a dead-letter queue (redrive after `max_receive_count` receives), and the bucket notifications
(raw-data -> ingest, videos -> detect). Idempotent: safe to run on every start."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from pitchlens.infrastructure.settings import FUNCTIONS, Settings

BROWSER_CORS = {
    "CORSRules": [
        {
            "AllowedOrigins": ["*"],
            "AllowedMethods": ["GET", "PUT", "HEAD"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "Content-Length", "Content-Range", "Accept-Ranges"],
            "MaxAgeSeconds": 3600,
        }
    ]
}


class AwsResourceProvisioner:
    """Ensures buckets, queues, DLQs and notifications exist as the settings describe."""

    def __init__(self, s3: Any, sqs: Any, settings: Settings) -> None:
        self._s3 = s3
        self._sqs = sqs
        self._settings = settings

    def ensure_all(self) -> None:
        self.ensure_queues()
        self.ensure_buckets()
        self.ensure_notifications()

    def ensure_buckets(self) -> None:
        for bucket in self._settings.buckets.values():
            try:
                self._s3.head_bucket(Bucket=bucket)
            except ClientError:
                self._s3.create_bucket(Bucket=bucket)
            # The web page uploads parts and downloads results straight from the buckets with
            # presigned URLs, from the API's origin: the browser needs CORS, and the ETag of each
            # part it uploaded. A presigned URL is its own credential, so any origin may use one.
            self._s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=BROWSER_CORS)

    def ensure_queues(self) -> dict[str, str]:
        urls = {}
        for function in FUNCTIONS:
            dlq_url = self._sqs.create_queue(QueueName=self._settings.dlq_name(function))["QueueUrl"]
            dlq_arn = self.queue_arn(dlq_url)
            urls[function] = self._sqs.create_queue(
                QueueName=self._settings.queue_name(function),
                Attributes={
                    "VisibilityTimeout": str(self._settings.visibility_timeout_s),
                    "RedrivePolicy": json.dumps(
                        {
                            "deadLetterTargetArn": dlq_arn,
                            "maxReceiveCount": str(self._settings.max_receive_count),
                        }
                    ),
                },
            )["QueueUrl"]
        return urls

    def queue_arn(self, url: str) -> str:
        arn: str = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        return arn

    def ensure_notifications(self) -> None:
        for bucket, function in self._settings.notification_routes.items():
            url = self._sqs.get_queue_url(QueueName=self._settings.queue_name(function))["QueueUrl"]
            self._s3.put_bucket_notification_configuration(
                Bucket=bucket,
                NotificationConfiguration={
                    "QueueConfigurations": [
                        {
                            "Id": f"{bucket}-to-{function}",
                            "QueueArn": self.queue_arn(url),
                            "Events": ["s3:ObjectCreated:*"],
                        }
                    ]
                },
            )
