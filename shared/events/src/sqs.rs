//! Dead letters on AWS: one SQS message per event that can never apply, its body the event as
//! received and its attributes the reason, the detail and the event id; read back by a redrive
//! (`oms outbox redrive`), which deletes what it could publish and releases the rest.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageAttributeValue;
use domain::ports::{DeadLetter, DeadLetters, PublishError, PublishFuture};

pub struct SqsDeadLetters {
    client: Client,
    queue_url: String,
}

impl SqsDeadLetters {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

/// A dead letter read back from the queue.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    /// What deletes or releases it.
    pub receipt: String,
    /// The `reason` attribute (empty when it has none: a message SQS or Lambda put there).
    pub reason: String,
    pub body: String,
}

fn sqs_error(e: impl std::error::Error + Send + Sync + 'static) -> PublishError {
    PublishError::Bus(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
}

/// An SQS queue as a consumer sees it: read messages, delete them, or put them out of sight
/// (a redrive of dead letters; the notifier's backoff).
#[derive(Clone)]
pub struct SqsQueue {
    client: Client,
    queue_url: String,
}

impl SqsQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Up to `max` (at most 10) messages, each kept out of sight for `hide_secs`; waits a
    /// second for one at most.
    pub async fn receive(&self, max: i32, hide_secs: i32) -> Result<Vec<Received>, PublishError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10))
            .visibility_timeout(hide_secs)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(sqs_error)?;
        Ok(out
            .messages()
            .iter()
            .map(|m| Received {
                id: m.message_id().unwrap_or_default().to_owned(),
                receipt: m.receipt_handle().unwrap_or_default().to_owned(),
                reason: m
                    .message_attributes()
                    .and_then(|a| a.get("reason"))
                    .and_then(|v| v.string_value())
                    .unwrap_or_default()
                    .to_owned(),
                body: m.body().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    /// Removes a message for good.
    pub async fn delete(&self, receipt: &str) -> Result<(), PublishError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(sqs_error)?;
        Ok(())
    }

    /// Makes a message visible again at once.
    pub async fn release(&self, receipt: &str) -> Result<(), PublishError> {
        self.hide(receipt, 0).await
    }

    /// Keeps each message out of sight for its seconds from now (SQS takes at most 12 hours),
    /// ten to a call; the receipts SQS did not take are returned.
    pub async fn hide_all(&self, hide: &[(String, i32)]) -> Result<Vec<String>, PublishError> {
        use aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry as Entry;
        let mut refused = Vec::new();
        for chunk in hide.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, (receipt, secs))| {
                    Entry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .visibility_timeout((*secs).clamp(0, 43_200))
                        .build()
                        .map_err(|e| PublishError::Bus(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .change_message_visibility_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(sqs_error)?;
            for failed in out.failed() {
                if let Some((receipt, _)) =
                    failed.id().parse::<usize>().ok().and_then(|i| chunk.get(i))
                {
                    refused.push(receipt.clone());
                }
            }
        }
        Ok(refused)
    }

    /// Keeps a message out of sight for `secs` from now (SQS takes at most 12 hours).
    pub async fn hide(&self, receipt: &str, secs: i32) -> Result<(), PublishError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(secs.clamp(0, 43_200))
            .send()
            .await
            .map_err(sqs_error)?;
        Ok(())
    }
}

fn text(value: &str) -> Result<MessageAttributeValue, PublishError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| PublishError::Bus(e.to_string()))
}

impl DeadLetters for SqsDeadLetters {
    fn dead_letter<'a>(&'a self, letter: &'a DeadLetter) -> PublishFuture<'a, ()> {
        Box::pin(async move {
            let mut send = self
                .client
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(&letter.body)
                .message_attributes("reason", text(&letter.reason)?)
                .message_attributes("detail", text(&letter.detail)?);
            if let Some(id) = &letter.event_id {
                send = send.message_attributes("eventId", text(id)?);
            }
            send.send().await.map_err(sqs_error)?;
            Ok(())
        })
    }
}
