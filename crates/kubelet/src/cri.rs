//! The CRI client: tonic over containerd's unix socket, the runtime and image services.

use std::path::Path;

use hyper_util::rt::TokioIo;
use k8s_cri::v1::{
    ImageSpec, ImageStatusRequest, image_service_client::ImageServiceClient,
    runtime_service_client::RuntimeServiceClient,
};
use tonic::transport::{Channel, Endpoint, Uri};

/// Both CRI services over one connection.
#[derive(Clone)]
pub struct Cri {
    /// RunPodSandbox, Create/Start/Stop/RemoveContainer, statuses.
    pub runtime: RuntimeServiceClient<Channel>,
    /// ImageStatus, PullImage, ListImages.
    pub images: ImageServiceClient<Channel>,
}

impl Cri {
    /// Connects to a CRI runtime's unix socket.
    pub async fn connect(socket: &Path) -> Result<Cri, tonic::transport::Error> {
        let socket = socket.to_path_buf();
        // The URI is required by tonic but unused: the connector dials the socket.
        let channel = Endpoint::from_static("http://[::]:50051")
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let socket = socket.clone();
                async move {
                    Ok::<_, std::io::Error>(TokioIo::new(
                        tokio::net::UnixStream::connect(socket).await?,
                    ))
                }
            }))
            .await?;
        Ok(Cri {
            runtime: RuntimeServiceClient::new(channel.clone()),
            images: ImageServiceClient::new(channel),
        })
    }

    /// Whether the runtime holds the image.
    pub async fn has_image(&self, image: &str) -> Result<bool, tonic::Status> {
        Ok(self
            .images
            .clone()
            .image_status(ImageStatusRequest {
                image: Some(ImageSpec {
                    image: image.to_string(),
                    ..Default::default()
                }),
                verbose: false,
            })
            .await?
            .into_inner()
            .image
            .is_some())
    }
}
